// `--output …,compression=estargz,estargz-optimize=true`: the files RUN steps open come first in
// the exported layers, ahead of `.prefetch.landmark`; files nobody opened come after it. On a
// lazily pulled eStargz base (stargz snapshotter: its FUSE layers record) and on a pulled base
// (overlay snapshotter: layer dirs seen through recording FUSE views), for base layers and for
// layers built by earlier steps. Checked with our eStargz reader and the reference Go package
// (entry offsets). Whiteouts and opaque dirs still work through the views. A cached rebuild keeps
// the recorded files; bad option combinations stop with one line before anything is built.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { estargzTestImage } from '../harness/images.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { skopeoOk } from '../harness/registry-images.ts';
import { tempDir, removeTempDirs } from '../harness/temp-dir.ts';
import { buildChecker, goVerify } from '../interop/estargz-check/build-checker.ts';
import { bytesSource, openEstargz, PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION } from '../../plugins/snapshotter-stargz/estargz/index.ts';

let reg: TestRegistry;
let checker = '';
let ctx = '';
let root = '';
let work = '';

/** Read by the RUN step (paths as in the base layer). */
const READ = ['etc/debian_version', 'usr/share/common-licenses/GPL-3', 'usr/bin/md5sum', 'etc/host.conf'];
/** In the base layer, never opened by the build. */
const NOT_READ = ['usr/share/common-licenses/Apache-2.0', 'usr/bin/tac', 'etc/adduser.conf'];

beforeAll(async () => {
  checker = buildChecker();
  const layout = await estargzTestImage('debian-base');
  reg = await startRegistry();
  skopeoOk('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/esgz/debian:1`);
  work = tempDir('eb-opt-');
  root = join(work, 'root');
  ctx = join(work, 'ctx');
  fs.mkdirSync(ctx);
  fs.writeFileSync(
    join(ctx, 'Dockerfile'),
    [
      `FROM ${reg.host}/esgz/debian:1`,
      // Reads base files; writes md5.txt (read by the next step) and unread.txt (never read);
      // deletes a file (whiteout) and replaces a directory (opaque).
      'RUN cat /etc/debian_version /usr/share/common-licenses/GPL-3 /etc/host.conf > /dev/null && md5sum /etc/debian_version > /md5.txt && echo no > /unread.txt && rm /etc/adduser.conf && rm -rf /etc/apt && mkdir /etc/apt && echo new > /etc/apt/new',
      'RUN cat /md5.txt > /copy.txt && test ! -e /etc/adduser.conf && test "$(ls /etc/apt)" = new',
      '',
    ].join('\n'),
  );
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

const build = (out: string, snapshotter = 'stargz', buildRoot = root) =>
  edgebuild(['--root', buildRoot, 'build', '--snapshotter', snapshotter, '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`, '--output', out]);

/** Layers of an OCI (or docker) archive: path, TOC digest and the names before the landmark. */
async function layersOf(archive: string) {
  const dir = tempDir('eb-opt-unpack-');
  expect(Bun.spawnSync(['tar', '-xf', archive, '-C', dir]).exitCode).toBe(0);
  return layersOfLayout(dir);
}

async function layersOfLayout(dir: string) {
  const blob = (d: string) => join(dir, 'blobs/sha256', d.slice(7));
  const index = JSON.parse(fs.readFileSync(join(dir, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(fs.readFileSync(blob(manifest.config.digest), 'utf8'));
  const out = [];
  for (const [i, l] of (manifest.layers as { digest: string; annotations?: Record<string, string> }[]).entries()) {
    const toc = l.annotations?.[TOC_DIGEST_ANNOTATION];
    const r = await openEstargz(bytesSource(new Uint8Array(fs.readFileSync(blob(l.digest)))), { layerDigest: l.digest, expectedTocDigest: toc });
    out.push({ path: blob(l.digest), toc, landmark: r.landmark(), diffID: config.rootfs.diff_ids[i] as string });
  }
  return out;
}

/** What every optimized export of this Dockerfile must show, whatever the snapshotter. */
async function checkOptimized(archive: string, err: string) {
  expect(err).toMatch(/layer 1 \w{12} optimized \(base layer \w{12}\): \d+ file\(s\) prioritized before \.prefetch\.landmark \(\d+ recorded\)/);
  expect(err).toMatch(/layer 2 \w{12} optimized \(layer of "\[2\/3\] RUN cat [^"]*"\): 1 file\(s\) prioritized before \.prefetch\.landmark \(1 recorded\): md5\.txt\n/);
  const [base, first, second] = await layersOf(archive);
  expect(base.landmark.kind).toBe('prefetch');
  for (const f of READ) expect(base.landmark.prioritizedFiles).toContain(f);
  for (const f of NOT_READ) expect(base.landmark.prioritizedFiles).not.toContain(f);
  // The dynamic loader and libc were opened for every process: they are recorded too.
  expect(base.landmark.prioritizedFiles.some((f) => /libc\.so/.test(f))).toBe(true);
  // The reference reader sees the same order, and verifies every chunk and the diffID.
  const go = goVerify(checker, base.path, base.toc);
  expect(go.diffID).toBe(base.diffID);
  const mark = go.files[PREFETCH_LANDMARK].offset;
  for (const f of READ) expect([f, go.files[f].offset < mark]).toEqual([f, true]);
  for (const f of NOT_READ) expect([f, go.files[f].offset > mark]).toEqual([f, true]);
  // The first RUN's layer: md5.txt was read by the second RUN, unread.txt by nobody.
  expect(first.landmark.prioritizedFiles).toEqual(['md5.txt']);
  const goFirst = goVerify(checker, first.path, first.toc);
  expect(goFirst.diffID).toBe(first.diffID);
  expect(goFirst.files['md5.txt'].offset).toBeLessThan(goFirst.files[PREFETCH_LANDMARK].offset);
  expect(goFirst.files['unread.txt'].offset).toBeGreaterThan(goFirst.files[PREFETCH_LANDMARK].offset);
  // Nothing was opened in the last layer: ctr-remote's no-prefetch landmark.
  expect(second.landmark.kind).toBe('no-prefetch');
  return base.landmark.prioritizedFiles;
}

describe('estargz-optimize', () => {
  test('[slow] stargz: files RUN steps opened in the lazy base and in built layers come first; a cached rebuild keeps them', async () => {
    const archive = join(work, 'opt.tar');
    const r = await build(`type=oci,dest=${archive},compression=estargz,compression-level=1,estargz-optimize=true,force-compression=true`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/base layer sha256:[0-9a-f]{12}.*: lazy, fetched/);
    const prioritized = await checkOptimized(archive, r.err);

    // Every step CACHED: the accesses come from the cache records, the output is the same.
    const again = join(work, 'again.tar');
    const c = await build(`type=oci,dest=${again},compression=estargz,compression-level=1,estargz-optimize=true,force-compression=true`);
    expect(c.code, c.err).toBe(0);
    expect((c.err.match(/^#\d+ CACHED$/gm) ?? []).length).toBeGreaterThanOrEqual(2);
    expect(await checkOptimized(again, c.err)).toEqual(prioritized);
    expect(await mountsUnder(root)).toEqual([]);
  }, 600_000);

  test('[slow] overlay: the pulled base layer and built layers are recorded through FUSE views of their dirs', async () => {
    const overlayRoot = join(work, 'overlay-root');
    const archive = join(work, 'overlay.tar');
    const r = await build(`type=oci,dest=${archive},compression=estargz,compression-level=1,estargz-optimize=true,force-compression=true`, 'overlay', overlayRoot);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toMatch(/base layer sha256:[0-9a-f]{12}.*: pulled/);
    await checkOptimized(archive, r.err);
    expect(await mountsUnder(overlayRoot)).toEqual([]);
  }, 600_000);

  test('[slow] without force-compression the lazy base layer is kept as it is, and the output says so', async () => {
    const archive = join(work, 'kept.tar');
    const r = await build(`type=oci,dest=${archive},compression=estargz,compression-level=1,estargz-optimize=true`);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain('kept as application/vnd.oci.image.layer.v1.tar+gzip (no force-compression); not optimized (force-compression=true re-writes base layers prioritized)');
    const [base] = await layersOf(archive);
    const src = JSON.parse(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/esgz/debian:1`));
    expect(base.toc).toBe(src.layers[0].annotations[TOC_DIGEST_ANNOTATION]);
  }, 600_000);

  test('[slow] type=docker and a type=image push carry the optimized layers too', async () => {
    const docker = join(work, 'opt-docker.tar');
    const d = await build(`type=docker,dest=${docker},compression=estargz,compression-level=1,estargz-optimize=true`);
    expect(d.code, d.err).toBe(0);
    expect((await layersOf(docker))[1].landmark.prioritizedFiles).toEqual(['md5.txt']);
    const ref = `${reg.host}/out/optimized:1`;
    const p = await build(`type=image,name=${ref},push=true,compression=estargz,compression-level=1,estargz-optimize=true`);
    expect(p.code, p.err).toBe(0);
    const pulled = tempDir('eb-opt-pulled-');
    skopeoOk('copy', '--quiet', '--src-tls-verify=false', `docker://${ref}`, `oci:${pulled}:x`);
    const layers = await layersOfLayout(pulled);
    expect(layers[1].landmark.prioritizedFiles).toEqual(['md5.txt']);
    expect(goVerify(checker, layers[1].path, layers[1].toc).diffID).toBe(layers[1].diffID);
  }, 600_000);

  test('[slow] a failing RUN leaves no recording views mounted', async () => {
    const failCtx = join(work, 'fail-ctx');
    fs.mkdirSync(failCtx);
    fs.writeFileSync(join(failCtx, 'Dockerfile'), `FROM ${reg.host}/esgz/debian:1\nRUN echo one > /one.txt\nRUN cat /one.txt && exit 3\n`);
    const failRoot = join(work, 'fail-root');
    const out = join(work, 'fail.tar');
    const r = await edgebuild(['--root', failRoot, 'build', '--snapshotter', 'overlay', '--progress', 'plain', '--local', `context=${failCtx}`, '--local', `dockerfile=${failCtx}`, '--output', `type=oci,dest=${out},compression=estargz,estargz-optimize=true`]);
    expect(r.code).not.toBe(0);
    expect(r.err).toContain('exit code: 3');
    expect(await mountsUnder(failRoot)).toEqual([]);
    expect(fs.readdirSync(join(failRoot, 'tmp')).filter((n) => n.includes('rec-'))).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
  }, 300_000);

  test('[slow] bad combinations: one line, non-zero exit, nothing written, nothing run', async () => {
    const cases: [string, string[], string][] = [
      [`type=oci,dest=${join(work, 'bad1.tar')},compression=gzip,estargz-optimize=true`, [], 'exporter oci: estargz-optimize=true needs compression=estargz (got compression=gzip)'],
      [`type=local,dest=${join(work, 'bad2')},estargz-optimize=true`, [], '--output type=local: estargz-optimize applies only to type=image, registry, oci or docker'],
      [`type=oci,dest=${join(work, 'bad3.tar')},compression=estargz,estargz-optimize=true`, ['--snapshotter', 'native'], '--output type=oci: estargz-optimize=true needs the overlay or stargz snapshotter to record file accesses (this build uses native)'],
    ];
    for (const [out, extra, msg] of cases) {
      const args = ['--root', join(work, 'bad-root'), 'build', '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`, '--output', out, ...(extra.length ? extra : ['--snapshotter', 'stargz'])];
      const r = await edgebuild(args);
      expect(r.code).not.toBe(0);
      expect(r.err).toContain(msg);
      expect(r.err.trim().split('\n').filter((l) => l.includes('estargz-optimize')).length).toBe(1);
      expect(r.err).not.toContain('RUN cat');
    }
    for (const f of ['bad1.tar', 'bad2', 'bad3.tar']) expect(fs.existsSync(join(work, f))).toBe(false);
  }, 120_000);
});
