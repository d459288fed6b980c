// `edgebuild daemon --oci-worker-proxy-snapshotter-path` (and [worker.oci] proxySnapshotterPath):
// a proxy that is not there, not a socket or not answering is one line and a non-zero exit, and
// leaves nothing behind (no credential socket, no daemon socket).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { edgebuild } from '../harness/edgebuild.ts';

let dir: string;
const daemon = (args: string[], config?: string) =>
  edgebuild(['--root', join(dir, 'root'), ...(config ? ['--config', config] : []), '--addr', `unix://${join(dir, 'd.sock')}`, 'daemon', ...args]);

beforeAll(() => {
  dir = fs.mkdtempSync(join(tmpdir(), 'eb-dflags-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('daemon proxy snapshotter flags', () => {
  test('a missing socket, from the flag or the config key, is one line naming it [slow]', async () => {
    const missing = join(dir, 'nope.sock');
    const r = await daemon([`--oci-worker-proxy-snapshotter-path=${missing}`]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([`edgebuild: daemon: proxy snapshotter ${missing}: no such socket (is \`edgebuild snapshotter serve --socket ${missing}\` running?)`]);
    const cfg = join(dir, 'c.toml');
    fs.writeFileSync(cfg, `[worker.oci]\nproxySnapshotterPath = "${join(dir, 'cfg.sock')}"\n`);
    const c = await daemon([], cfg);
    expect(c.code).toBe(1);
    expect(c.err).toContain(`proxy snapshotter ${join(dir, 'cfg.sock')}: no such socket`);
  });

  test('not a socket, or nobody answering, fails before listening and leaves no sockets [slow]', async () => {
    fs.writeFileSync(join(dir, 'plain'), '');
    const plain = await daemon(['--oci-worker-proxy-snapshotter-path', join(dir, 'plain')]);
    expect(plain.code).toBe(1);
    expect(plain.err.trim()).toBe(`edgebuild: daemon: proxy snapshotter ${join(dir, 'plain')}: not a socket`);
    // A socket file nobody listens on any more (a hard link outlives the server's unlink).
    const srv = net.createServer().listen(join(dir, 'live.sock'));
    await new Promise((r) => srv.once('listening', r));
    const dead = join(dir, 'dead.sock');
    fs.linkSync(join(dir, 'live.sock'), dead);
    await new Promise((r) => srv.close(r));
    const r = await daemon(['--oci-worker-proxy-snapshotter-path', dead]);
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(`proxy snapshotter ${dead}: not answering`);
    expect(fs.existsSync(join(dir, 'd.sock'))).toBe(false);
    expect(fs.readdirSync(join(dir, 'root', 'tmp'))).toEqual([]);
  });

  test('--oci-worker-snapshotter and --oci-worker-proxy-snapshotter-path exclude each other', async () => {
    const r = await daemon(['--oci-worker-snapshotter', 'overlay', '--oci-worker-proxy-snapshotter-path', join(dir, 'x.sock')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('exclude each other');
  });
});
