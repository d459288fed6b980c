import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import { overlayDriver } from '../../../plugins/snapshotter-overlay/driver.ts';
import { overlayProblem } from '../../../plugins/snapshotter-overlay/check.ts';
import { serveSnapshotter } from '../../../core/snapshot/proxy-server.ts';
import { ProxySnapshotter, ProxyError } from '../../../core/snapshot/proxy-client.ts';
import { withMounts } from '../../../core/snapshot/mount.ts';
import { readTar } from '../../../core/layer/tar-reader.ts';
import { tarOf } from '../../harness/registry-images.ts';
import type { GrpcServer } from '../../../core/grpc/server.ts';
import { Code } from '../../../core/grpc/status.ts';

let dir: string;
let server: GrpcServer;
let client: ProxySnapshotter;
let backend: DirSnapshotter;
const logs: string[] = [];
const problem = await overlayProblem(join(tmpdir(), 'eb-overlay-probe'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eb-proxy-'));
  backend = new DirSnapshotter(join(dir, 'root'), overlayDriver());
  server = await serveSnapshotter(backend, join(dir, 'sn.sock'), { name: 'snapshotter.overlay', log: (m) => logs.push(m) });
  client = new ProxySnapshotter(server.socketPath, { mountDir: dir });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(problem !== undefined)('proxy snapshotter round trip (overlay) [slow]', () => {
  test('applyLayer, view, prepare, commit, mounts, stat, walk, usage, diff, remove [slow]', async () => {
    const base = await client.applyLayer('base', undefined, [await tarOf({ 'etc/hostname': 'edge\n', 'bin/gone': 'x' })]);
    expect(base.diffID).toMatch(/^sha256:/);
    const top = await client.applyLayer('top', 'base', [await tarOf({ 'app/hello.txt': 'hi\n', 'bin/.wh.gone': '' })]);
    expect(top.size).toBeGreaterThan(0);

    const viewMounts = await client.view('v1', 'top');
    await withMounts(viewMounts, async (d) => {
      expect(readFileSync(join(d, 'etc/hostname'), 'utf8')).toBe('edge\n');
      expect(readFileSync(join(d, 'app/hello.txt'), 'utf8')).toBe('hi\n');
      expect(existsSync(join(d, 'bin/gone'))).toBe(false);
    }, dir);
    expect(await client.mounts('v1')).toEqual(viewMounts);

    await client.prepare('work', 'top', { labels: { purpose: 'test' } });
    const info = await client.stat('work');
    expect(info).toMatchObject({ key: 'work', parent: 'top', kind: 'active' });
    expect(info!.labels.purpose).toBe('test');
    expect(Date.parse(info!.created)).toBeGreaterThan(Date.now() - 60_000);
    await withMounts(await client.mounts('work'), async (d) => Bun.write(join(d, 'new.txt'), 'new'), dir);
    const layer = await client.diff('work');
    const names: string[] = [];
    await readTar(layer.stream, async (e, body) => {
      names.push(e.name);
      for await (const _ of body);
    });
    await layer.done;
    expect(names).toContain('new.txt');
    await client.commit('work-done', 'work', { labels: { done: '1' } });
    expect((await client.stat('work-done'))!.kind).toBe('committed');
    expect(await client.stat('work')).toBeUndefined();

    const committedDiff = await client.diff('top');
    const topNames: string[] = [];
    await readTar(committedDiff.stream, async (e, body) => {
      topNames.push(e.name);
      for await (const _ of body);
    });
    expect((await committedDiff.done).diffID).toBeTruthy();
    expect(topNames.sort()).toEqual(['app', 'app/hello.txt', 'bin', 'bin/.wh.gone']);

    const keys: string[] = [];
    await client.walk((i) => void keys.push(`${i.key}:${i.kind}`));
    expect(keys.sort()).toEqual(['base:committed', 'top:committed', 'v1:view', 'work-done:committed']);
    const u = await client.usage('base');
    expect(u.inodes).toBeGreaterThanOrEqual(4);
    expect(u.size).toBeGreaterThan(0);

    // Errors keep their gRPC meaning.
    const missing = await client.mounts('nope').catch((e) => e);
    expect(missing).toBeInstanceOf(ProxyError);
    expect(missing.code).toBe(Code.NOT_FOUND);
    expect(missing.message).toContain('snapshot "nope" does not exist');
    const dup = await client.prepare('v1', 'top').catch((e) => e);
    expect(dup.code).toBe(Code.ALREADY_EXISTS);
    const busy = await client.remove('top').catch((e) => e);
    expect(busy.code).toBe(Code.FAILED_PRECONDITION);

    for (const k of ['v1', 'work-done', 'top', 'base']) await client.remove(k);
    const left: string[] = [];
    await client.walk((i) => void left.push(i.key));
    expect(left).toEqual([]);
  });

  test('prepareRemote on a snapshotter that is not remote falls back with a reason [slow]', async () => {
    const r = await client.prepareRemote('sha256:chain', undefined, {
      imageRef: '127.0.0.1:5000/x:1',
      registry: '127.0.0.1:5000',
      repository: 'x',
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'a'.repeat(64)}`, size: 10 },
    });
    expect(r).toEqual({ lazy: false, reason: 'snapshotter.overlay does not mount layers remotely' });
    const keys: string[] = [];
    await client.walk((i) => void keys.push(i.key));
    expect(keys.filter((k) => k.startsWith('extract-'))).toEqual([]); // the temporary snapshot was removed
    expect(await client.refreshRemoteStatus()).toEqual([]);
  });
});
