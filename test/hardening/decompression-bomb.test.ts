// A decompression bomb (a small gzip inflating to far more than the disk holds) must stop cleanly
// before the filesystem fills: containerd has no bound of its own and writes until ENOSPC; edgebuild
// keeps a reserve free (see SpaceGuard in core/layer/apply.ts). The disk is a small tmpfs here.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGzip } from 'node:zlib';
import { overlaySnapshotter } from '../../plugins/snapshotter-overlay/index.ts';
import { mountSyscall } from '../../core/layer/libc.ts';
import { unmountAll } from '../../core/snapshot/mount.ts';
import { encodeHeader } from '../../core/layer/tar-writer.ts';
import type { TarEntry } from '../../core/layer/tar-header.ts';
import { initPlugin } from '../core/layer/snapshotter-suite.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { writeLayoutImage } from './hostile-image.ts';
import { digestOf } from '../../core/content/digest.ts';
import { skopeoOk } from '../harness/registry-images.ts';

const MiB = 1024 * 1024;
const sandbox = mkdtempSync(join(tmpdir(), 'eb-bomb-'));
const disk = join(sandbox, 'disk');
let reg: TestRegistry | undefined;

const header = (name: string, size: number) =>
  encodeHeader({ name, type: 'file', mode: 0o644, uid: 0, gid: 0, size, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: {} } satisfies TarEntry);

/** A tar with one file of `size` zero bytes, produced lazily (never held in memory). */
async function* zeroTar(size: number): AsyncGenerator<Uint8Array> {
  yield header('bomb', size);
  const zeros = new Uint8Array(MiB);
  for (let left = size; left > 0; left -= MiB) yield left >= MiB ? zeros : zeros.subarray(0, left);
  yield new Uint8Array(1024);
}

/** The gzip of zeroTar(size), and its uncompressed digest (the diffID). */
async function gzipBomb(size: number): Promise<{ blob: Uint8Array; diffID: string }> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c) => out.push(c));
  const hash = new Bun.CryptoHasher('sha256');
  for await (const chunk of zeroTar(size)) {
    hash.update(chunk);
    if (!gz.write(chunk)) await new Promise((r) => gz.once('drain', r));
  }
  await new Promise((r) => gz.end(r));
  return { blob: new Uint8Array(Buffer.concat(out)), diffID: `sha256:${hash.digest('hex')}` };
}

beforeAll(() => {
  mkdirSync(disk);
  mountSyscall('tmpfs', disk, 'tmpfs', 0n, 'size=96m');
});

afterAll(async () => {
  await reg?.stop();
  await unmountAll(disk);
  rmSync(sandbox, { recursive: true, force: true });
});

const freeBytes = () => {
  const s = statfsSync(disk);
  return s.bavail * s.bsize;
};

test('[slow] a 1 GiB layer on a 96 MiB filesystem stops with a reserve left and leaves no snapshot', async () => {
  const sn = await initPlugin(overlaySnapshotter, join(disk, 'snap'));
  const before = freeBytes();
  await expect(sn.applyLayer('bomb', undefined, zeroTar(1024 * MiB))).rejects.toThrow(/^tar entry "bomb": stopped unpacking after \d+ MiB: only \d+ MiB left free on the filesystem of .* \(keeps 4 MiB free\)$/);
  expect(await sn.stat('bomb')).toBeUndefined();
  // The partial layer was removed again.
  expect(freeBytes()).toBeGreaterThan(before - MiB);
  rmSync(join(disk, 'snap'), { recursive: true, force: true });
}, 120_000);

test('[slow] a build FROM an image whose 2 GiB layer is a 2 MiB gzip fails naming the layer; the disk keeps its reserve', async () => {
  reg = await startRegistry();
  const bomb = await gzipBomb(2048 * MiB);
  expect(bomb.blob.length).toBeLessThan(4 * MiB);
  const layout = join(sandbox, 'layout');
  const img = await writeLayoutImage(layout, 'bomb', [bomb]);
  expect(img.layers[0].digest).toBe(digestOf(bomb.blob));
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${layout}:bomb`, `docker://${reg.host}/bomb:1`);
  const ctx = join(sandbox, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/bomb:1\nCOPY Dockerfile /x\n`);
  const root = join(disk, 'root');
  const out = join(sandbox, 'out');
  const r = await edgebuild(['--root', root, 'build', '--snapshotter', 'overlay', '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`, '--output', `type=local,dest=${out}`]);
  expect(r.code).not.toBe(0);
  const last = r.err.trim().split('\n').at(-1)!;
  expect(last).toContain(`layer ${img.layers[0].digest} of ${reg.host}/bomb:1: tar entry "bomb": stopped unpacking after`);
  expect(existsSync(out)).toBe(false);
  expect(await mountsUnder(root)).toEqual([]);
  // The unpacked part is gone again: only the small blob and metadata remain.
  expect(freeBytes()).toBeGreaterThan(80 * MiB);
}, 300_000);
