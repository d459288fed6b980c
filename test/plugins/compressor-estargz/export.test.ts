// `build --output …,compression=estargz` end to end: oci and docker archives and a registry push,
// with and without force-compression on a plain-gzip base image. The reference Go package must
// verify every eStargz layer against the diff_ids in the config.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';
import { buildImage, skopeoOk } from '../../harness/registry-images.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { buildChecker, goVerify } from '../../interop/estargz-check/build-checker.ts';
import { TOC_DIGEST_ANNOTATION } from '../../../plugins/snapshotter-stargz/estargz/index.ts';

const ENTRY = join(import.meta.dir, 'with-plugins.ts');
let reg: TestRegistry;
let checker = '';
let ctxDir = '';

beforeAll(async () => {
  reg = await startRegistry();
  checker = buildChecker();
  const base = await buildImage({ layers: [{ 'etc/base.txt': 'base layer\n' }] });
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${base.dir}:${base.tag}`, `docker://${reg.host}/base/img:1`);
  ctxDir = tempDir('eb-esgz-ctx-');
  writeFileSync(join(ctxDir, 'Dockerfile'), `FROM ${reg.host}/base/img:1\nCOPY big.bin /data/big.bin\nCOPY hello.txt /hello.txt\n`);
  writeFileSync(join(ctxDir, 'big.bin'), new Uint8Array(5_000_000).map((_, i) => (i * 2654435761) >>> 24));
  writeFileSync(join(ctxDir, 'hello.txt'), 'hello\n');
});
afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

async function edgebuild(args: string[]) {
  const p = Bun.spawn([process.execPath, ENTRY, ...args], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, EDGEBUILD_CONFIG: '' } });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

/** Unpacks an OCI/docker archive and returns its manifest, config and blob paths. */
function unpack(archive: string) {
  const dir = tempDir('eb-esgz-unpack-');
  mkdirSync(dir, { recursive: true });
  expect(Bun.spawnSync(['tar', '-xf', archive, '-C', dir]).exitCode).toBe(0);
  const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
  const blob = (d: string) => join(dir, 'blobs/sha256', d.slice(7));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), 'utf8'));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  return { manifest, config, blob };
}

describe('export with compression=estargz', () => {
  test('[slow] type=oci keeps the plain base layer and says so; force-compression converts it; reference verifies', async () => {
    const root = tempDir('eb-esgz-root-');
    const out = join(tempDir('eb-esgz-out-'), 'img.tar');
    const kept = await edgebuild(['--root', root, 'build', ctxDir, '--output', `type=oci,dest=${out},compression=estargz,oci-mediatypes=true`]);
    expect(kept.code, kept.err).toBe(0);
    expect(kept.err).toMatch(/layer 1 \w+ kept as application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip \(no force-compression\)/);
    const a = unpack(out);
    expect(a.manifest.layers[0].annotations?.[TOC_DIGEST_ANNOTATION]).toBeUndefined();
    for (const [i, l] of a.manifest.layers.entries()) {
      if (i === 0) continue;
      expect(goVerify(checker, a.blob(l.digest), l.annotations[TOC_DIGEST_ANNOTATION]).diffID).toBe(a.config.rootfs.diff_ids[i]);
    }

    const forced = await edgebuild(['--root', root, 'build', ctxDir, '--output', `type=oci,dest=${out},compression=estargz,oci-mediatypes=true,force-compression=true`]);
    expect(forced.code, forced.err).toBe(0);
    const b = unpack(out);
    expect(b.manifest.layers.length).toBe(a.manifest.layers.length);
    for (const [i, l] of b.manifest.layers.entries()) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(goVerify(checker, b.blob(l.digest), l.annotations[TOC_DIGEST_ANNOTATION]).diffID).toBe(b.config.rootfs.diff_ids[i]);
    }
  }, 120_000);

  test('[slow] type=image push with force-compression: skopeo sees the annotations; type=docker uses Docker layer types', async () => {
    const root = tempDir('eb-esgz-root-');
    const pushed = await edgebuild(['--root', root, 'build', ctxDir, '--output', `type=image,name=${reg.host}/out/esgz:1,push=true,compression=estargz,oci-mediatypes=true,force-compression=true`]);
    expect(pushed.code, pushed.err).toBe(0);
    const raw = JSON.parse(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/out/esgz:1`));
    expect(raw.layers.every((l: { annotations?: Record<string, string> }) => l.annotations?.[TOC_DIGEST_ANNOTATION]?.startsWith('sha256:'))).toBe(true);

    const out = join(tempDir('eb-esgz-out-'), 'docker.tar');
    const docker = await edgebuild(['--root', root, 'build', ctxDir, '--output', `type=docker,dest=${out},compression=estargz,force-compression=true`]);
    expect(docker.code, docker.err).toBe(0);
    const d = unpack(out);
    expect(d.manifest.mediaType).toBe('application/vnd.docker.distribution.manifest.v2+json');
    for (const [i, l] of d.manifest.layers.entries()) {
      expect(l.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
      expect(goVerify(checker, d.blob(l.digest), l.annotations[TOC_DIGEST_ANNOTATION]).diffID).toBe(d.config.rootfs.diff_ids[i]);
    }
  }, 120_000);
});
