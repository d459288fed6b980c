// Diffs through a proxy snapshotter: with overlay mounts the layer is read from the snapshot's own
// layer dir (no mount, no walk of the merged tree), and matches what the in-process overlay
// snapshotter produces: deletions as whiteouts, a replaced dir as opaque.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import { overlayDriver, overlayFeatureOptions } from '../../../plugins/snapshotter-overlay/driver.ts';
import { overlayProblem } from '../../../plugins/snapshotter-overlay/check.ts';
import { serveSnapshotter } from '../../../core/snapshot/proxy-server.ts';
import { ProxySnapshotter, overlayLayerDir } from '../../../core/snapshot/proxy-client.ts';
import { mountPoints, withMounts } from '../../../core/snapshot/mount.ts';
import { readTar } from '../../../core/layer/tar-reader.ts';
import { tarOf } from '../../harness/registry-images.ts';
import type { GrpcServer } from '../../../core/grpc/server.ts';
import type { LayerStream } from '../../../core/layer/diff.ts';

const off = overlayFeatureOptions();

describe('overlayLayerDir', () => {
  const overlay = (...o: string[]) => [{ type: 'overlay', source: 'overlay', options: [...o, ...off] }];
  test('an active overlay snapshot is its upperdir; a committed one\'s view is its first lowerdir', () => {
    expect(overlayLayerDir(overlay('lowerdir=/s/2/fs:/s/1/fs', 'upperdir=/s/3/fs', 'workdir=/s/3/work'), 'active')).toEqual({ dir: '/s/3/fs', lowers: ['/s/2/fs', '/s/1/fs'] });
    expect(overlayLayerDir(overlay('lowerdir=/s/3/fs:/s/2/fs:/s/1/fs'), 'committed')).toEqual({ dir: '/s/3/fs', lowers: ['/s/2/fs', '/s/1/fs'] });
  });
  test('binds, relative paths, several mounts and dependent-upperdir features fall back to comparing trees', () => {
    expect(overlayLayerDir([{ type: 'bind', source: '/s/1/fs', options: ['ro', 'rbind'] }], 'committed')).toBeUndefined();
    expect(overlayLayerDir(overlay('lowerdir=2/fs:1/fs', 'upperdir=3/fs', 'workdir=3/work'), 'active')).toBeUndefined();
    expect(overlayLayerDir(overlay('lowerdir=/s/1/fs', 'upperdir=/s/3/fs', 'workdir=/s/3/work', 'metacopy=on'), 'active')).toBeUndefined();
    expect(overlayLayerDir(overlay('lowerdir=/s/1/fs'), 'committed')).toBeUndefined();
    expect(overlayLayerDir([...overlay('lowerdir=/a:/b'), ...overlay('lowerdir=/c:/d')], 'committed')).toBeUndefined();
    expect(overlayLayerDir(overlay('lowerdir=/s/2/fs:/s/1/fs', 'upperdir=/s/3/fs', 'workdir=/s/3/work'), 'committed')).toBeUndefined();
  });
});

const problem = await overlayProblem(join(tmpdir(), 'eb-overlay-probe'));
let dir: string;
let backend: DirSnapshotter;
let server: GrpcServer;
let client: ProxySnapshotter;

beforeAll(async () => {
  if (problem) return;
  dir = mkdtempSync(join(tmpdir(), 'eb-proxy-diff-'));
  backend = new DirSnapshotter(join(dir, 'root'), overlayDriver());
  server = await serveSnapshotter(backend, join(dir, 'sn.sock'), { name: 'snapshotter.overlay' });
  mkdirSync(join(dir, 'mnt'));
  client = new ProxySnapshotter(server.socketPath, { mountDir: join(dir, 'mnt') });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function entries(layer: LayerStream): Promise<string[]> {
  const names: string[] = [];
  await readTar(layer.stream, async (e, body) => {
    names.push(`${e.type} ${e.name}`);
    for await (const _ of body);
  });
  await layer.done;
  return names.sort();
}

describe.skipIf(problem !== undefined)('diff through the proxy (overlay) [slow]', () => {
  test('reads the layer dir without mounting; same entries and diffID as the in-process driver [slow]', async () => {
    await client.applyLayer('base', undefined, [await tarOf({ 'etc/keep': 'k', 'etc/drop': 'd', 'opt/a/old': 'o', 'opt/b': 'b' })]);
    await withMounts(await client.prepare('work', 'base'), async (d) => {
      rmSync(join(d, 'etc/drop'));
      rmSync(join(d, 'opt/a'), { recursive: true });
      mkdirSync(join(d, 'opt/a'));
      writeFileSync(join(d, 'opt/a/new'), 'n');
      writeFileSync(join(d, 'etc/keep'), 'changed');
    }, dir);
    const mountsBefore = mountPoints().length;
    const active = await client.diff('work');
    // Nothing was mounted for it (the tree-compare path mounts both trees under mountDir).
    expect(mountPoints().length).toBe(mountsBefore);
    expect(readdirSync(join(dir, 'mnt'))).toEqual([]);
    const viaProxy = await entries(active);
    const local = await entries(await backend.diff('work'));
    expect(viaProxy).toEqual(local);
    expect(viaProxy).toEqual(['dir etc', 'dir opt', 'dir opt/a', 'file etc/.wh.drop', 'file etc/keep', 'file opt/a/.wh..wh..opq', 'file opt/a/new']);
    await client.commit('done', 'work');
    const a = await client.diff('done');
    const b = await backend.diff('done');
    expect(await entries(a)).toEqual(viaProxy);
    await entries(b);
    expect((await a.done).diffID).toBe((await b.done).diffID);
    // The temporary view is gone again.
    const keys: string[] = [];
    await client.walk((i) => void keys.push(i.key));
    expect(keys.sort()).toEqual(['base', 'done']);
  });
});
