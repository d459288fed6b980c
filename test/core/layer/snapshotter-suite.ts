// One behaviour suite for both directory snapshotters (overlay and native): they must agree.
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, readFileSync, readdirSync, lstatSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import type { LayerSnapshotter } from '../../../core/layer/types.ts';
import type { PluginRegistration } from '../../../core/plugin/types.ts';
import { mountPoints, withMounts } from '../../../core/snapshot/mount.ts';
import { chunked, listTar, makeTar, sha256 } from './fixtures.ts';

export function initPlugin(reg: PluginRegistration<any, any>, pluginRoot: string): Promise<LayerSnapshotter> {
  return Promise.resolve(
    reg.init({
      config: {},
      root: join(pluginRoot, '..'),
      pluginRoot,
      get: () => {
        throw new Error('no plugins');
      },
      all: () => [],
      global: {} as never,
      log: () => {},
    }),
  ) as Promise<LayerSnapshotter>;
}

const tree = (d: string): string[] =>
  readdirSync(d)
    .sort()
    .flatMap((c) => (lstatSync(join(d, c)).isDirectory() ? [`${c}/`, ...tree(join(d, c)).map((x) => `${c}/${x}`)] : [c]));

const L1 = makeTar([
  { name: 'etc', type: 'dir' },
  { name: 'etc/os-release', data: 'one' },
  { name: 'etc/keep', data: 'keep' },
  { name: 'var', type: 'dir' },
  { name: 'var/cache', type: 'dir' },
  { name: 'var/cache/junk', data: 'junk' },
  { name: 'bin', type: 'dir' },
  { name: 'bin/sh', data: '#!sh', mode: 0o755 },
  { name: 'bin/link-to-sh', type: 'link', linkname: 'bin/sh' },
]);
const L2 = makeTar([
  { name: 'etc', type: 'dir' },
  { name: 'etc/os-release', data: 'two' },
  { name: 'var', type: 'dir' },
  { name: 'var/cache', type: 'dir' },
  { name: 'var/cache/.wh..wh..opq' },
  { name: 'var/cache/fresh', data: 'fresh' },
]);
const L3 = makeTar([
  { name: 'etc', type: 'dir' },
  { name: 'etc/.wh.keep' },
  { name: 'usr', type: 'dir' },
  { name: 'usr/added', data: 'three' },
  // A hardlink to a file of an earlier layer (copied up by the overlay snapshotter).
  { name: 'usr/sh-again', type: 'link', linkname: 'bin/sh' },
]);

export function snapshotterSuite(name: string, reg: PluginRegistration<any, any>): void {
  const work = mkdtempSync(join(tmpdir(), `eb-snap-${name}-`));
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  let n = 0;

  describe(`snapshotter ${name}`, () => {
    test(`[slow] ${name}: a chain of 3 layers mounts as their union; changes make the right diff`, async () => {
      const root = join(work, `root-${n++}`);
      const sn = await initPlugin(reg, root);
      const r1 = await sn.applyLayer('l1', undefined, chunked(L1));
      expect(r1).toEqual({ diffID: sha256(L1), size: L1.length });
      await sn.applyLayer('l2', 'l1', chunked(L2));
      await sn.applyLayer('l3', 'l2', chunked(L3), { labels: { 'x.io/layer': '3' } });
      expect(await sn.stat('l3')).toMatchObject({ key: 'l3', parent: 'l2', kind: 'committed', labels: { 'x.io/layer': '3' } });

      const mounts = await sn.prepare('work', 'l3');
      const before = mountPoints().length;
      await withMounts(mounts, async (dir) => {
        expect(tree(dir)).toEqual(['bin/', 'bin/link-to-sh', 'bin/sh', 'etc/', 'etc/os-release', 'usr/', 'usr/added', 'usr/sh-again', 'var/', 'var/cache/', 'var/cache/fresh']);
        expect(readFileSync(join(dir, 'etc/os-release'), 'utf8')).toBe('two');
        expect(readFileSync(join(dir, 'usr/sh-again'), 'utf8')).toBe('#!sh');
        // A RUN step's changes.
        rmSync(join(dir, 'etc/os-release'));
        writeFileSync(join(dir, 'usr/added'), 'changed');
        mkdirSync(join(dir, 'opt'));
        writeFileSync(join(dir, 'opt/new'), 'new');
      });
      expect(mountPoints().length).toBe(before);

      const { stream, done } = await sn.diff('work');
      const entries = (await listTar(stream)).map((e) => `${e.type}:${e.name}`);
      expect(entries).toEqual(['dir:etc', 'file:etc/.wh.os-release', 'dir:opt', 'file:opt/new', 'dir:usr', 'file:usr/added']);
      expect((await done).diffID).toMatch(/^sha256:/);

      // A view of the chain is read-only.
      await withMounts(await sn.view('look', 'l3'), async (dir) => {
        expect(readFileSync(join(dir, 'etc/os-release'), 'utf8')).toBe('two');
        expect(() => writeFileSync(join(dir, 'nope'), 'x')).toThrow(/EROFS|read-only/);
      });

      await sn.commit('l4', 'work');
      expect((await sn.stat('l4'))?.kind).toBe('committed');
      expect((await sn.usage('l4')).inodes).toBeGreaterThan(2);

      const keys: string[] = [];
      await sn.walk((i) => void keys.push(`${i.key}<${i.parent ?? ''}`));
      expect(keys).toEqual(['l1<', 'l2<l1', 'l3<l2', 'l4<l3', 'look<l3']);

      await expect(sn.remove('l3')).rejects.toThrow('snapshot "l3" has children ("l4", "look"): remove them first');
      await expect(sn.prepare('l1', undefined)).rejects.toThrow('snapshot "l1" already exists');
      await expect(sn.prepare('x', 'nope')).rejects.toThrow('snapshot "nope" does not exist');

      // State survives a restart.
      const again = new DirSnapshotter(root, (sn as unknown as { driver: never }).driver);
      expect((await again.stat('l4'))?.parent).toBe('l3');
      for (const k of ['look', 'l4', 'l3', 'l2', 'l1']) await again.remove(k);
      expect(readdirSync(join(root, 'snapshots'))).toEqual([]);
    });

    test(`${name === 'overlay' ? '[slow] ' : ''}${name}: two instances on one root (two processes) see each other's changes`, async () => {
      const root = join(work, `root-${n++}`);
      const driver = ((await initPlugin(reg, root)) as unknown as { driver: never }).driver;
      const a = new DirSnapshotter(root, driver);
      const b = new DirSnapshotter(root, driver);
      await a.applyLayer('base', undefined, chunked(L1));
      await b.applyLayer('second', 'base', chunked(L2));
      await a.prepare('work-a', 'second');
      await b.prepare('work-b', 'second');
      const seen: string[] = [];
      await a.walk((i) => void seen.push(i.key));
      expect(seen).toEqual(['base', 'second', 'work-a', 'work-b']);
      const ids = new Set(Object.values(JSON.parse(readFileSync(join(root, 'metadata.json'), 'utf8')).snapshots).map((s) => (s as { id: number }).id));
      expect(ids.size).toBe(4);
      await expect(a.remove('second')).rejects.toThrow('has children');
    });

    test(`${name === 'overlay' ? '[slow] ' : ''}${name}: a failed unpack leaves no snapshot behind`, async () => {
      const root = join(work, `root-${n++}`);
      const sn = await initPlugin(reg, root);
      const bad = makeTar([{ name: 'x', type: 'link', linkname: 'missing' }]);
      await expect(sn.applyLayer('bad', undefined, chunked(bad))).rejects.toThrow('tar entry "x": hardlink target "missing" does not exist');
      expect(await sn.stat('bad')).toBeUndefined();
      expect(readdirSync(join(root, 'snapshots'))).toEqual([]);
      expect(existsSync(join(root, 'metadata.json'))).toBe(true);
    });
  });
}
