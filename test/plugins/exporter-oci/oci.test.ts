import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { ociExporter } from '../../../plugins/exporter-oci/index.ts';
import { compressors, describeTree, makeFixture, quiet, sha256, tmp, removeTemps } from '../../core/export/fixture.ts';
import { failAfter } from '../../core/export/fail-after.ts';
import { MediaType } from '../../../core/image/media-types.ts';

afterAll(removeTemps);

const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const exporter = (tmpDir = tmp('oci-blobs')) => ociExporter({ compressors, tmpDir });

describe('exporter oci', () => {
  test('tarball accepted by skopeo; umoci unpacks the same tree', async () => {
    const fx = await makeFixture({ existingLower: true });
    const dir = tmp('oci');
    const dest = join(dir, 'image.tar');
    const res = await exporter().export(fx.input, { dest, name: 'example.com/team/app:v1' }, quiet);
    const inspect = JSON.parse(run('skopeo', ['inspect', `oci-archive:${dest}`]));
    expect(inspect.Digest).toBe(res.digest);
    expect(inspect.Layers).toHaveLength(2);
    expect(inspect.Architecture).toBe('amd64');
    run('skopeo', ['copy', `oci-archive:${dest}`, `oci:${join(dir, 'layout')}:v1`]);
    run('umoci', ['unpack', '--image', `${join(dir, 'layout')}:v1`, join(dir, 'bundle')]);
    expect(describeTree(join(dir, 'bundle', 'rootfs'))).toEqual(describeTree(fx.rootfs));
    expect(res.notes[0]).toContain('kept as application/vnd.docker.image.rootfs.diff.tar.gzip');
  });

  test('zstd layers: skopeo reads them (umoci 0.4 cannot unpack zstd)', async () => {
    const fx = await makeFixture();
    const dir = tmp('oci');
    const dest = join(dir, 'image.tar');
    const res = await exporter().export(fx.input, { dest, compression: 'zstd', 'compression-level': '19' }, quiet);
    const raw = JSON.parse(run('skopeo', ['inspect', '--raw', `oci-archive:${dest}`]));
    expect(raw.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MediaType.ociLayerZstd, MediaType.ociLayerZstd]);
    run('skopeo', ['copy', `oci-archive:${dest}`, `dir:${join(dir, 'plain')}`]);
    const layer = join(dir, 'plain', raw.layers[1].digest.slice(7));
    expect(sha256(spawnSync('zstd', ['-dc', layer]).stdout)).toBe(fx.input.layers[1].diffID);
    expect(res.digest).toBe(sha256(readFileSync(join(dir, 'plain', 'manifest.json'))));
  });

  test('tar=false writes a layout directory with the name annotations', async () => {
    const fx = await makeFixture();
    const dest = join(tmp('oci'), 'layout');
    const res = await exporter().export(fx.input, { dest, tar: 'false', name: 'app' }, quiet);
    const index = JSON.parse(readFileSync(join(dest, 'index.json'), 'utf8'));
    expect(index.mediaType).toBe(MediaType.ociIndex);
    expect(index.manifests).toEqual([
      {
        mediaType: MediaType.ociManifest,
        digest: res.digest,
        size: readFileSync(join(dest, 'blobs/sha256', res.digest!.slice(7))).length,
        annotations: { 'io.containerd.image.name': 'docker.io/library/app:latest', 'org.opencontainers.image.ref.name': 'latest' },
        platform: { os: 'linux', architecture: 'amd64' },
      },
    ]);
    expect(JSON.parse(readFileSync(join(dest, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    for (const name of readdirSync(join(dest, 'blobs/sha256'))) {
      expect(sha256(readFileSync(join(dest, 'blobs/sha256', name)))).toBe(`sha256:${name}`);
    }
  });

  test('same input and SOURCE_DATE_EPOCH give a byte-identical tarball', async () => {
    const dir = tmp('oci');
    const digests = [];
    for (const n of [1, 2]) {
      const fx = await makeFixture({ epoch: 1_650_000_000 });
      await exporter().export(fx.input, { dest: join(dir, `${n}.tar`), name: 'app:1' }, quiet);
      digests.push(sha256(readFileSync(join(dir, `${n}.tar`))));
    }
    expect(digests[0]).toBe(digests[1]);
  });

  test('a layer stream that throws leaves no output and no temp blobs', async () => {
    const fx = await makeFixture();
    fx.input.layers[1].openTar = async () => new ReadableStream({ pull: (c) => c.error(new Error('snapshot diff failed')) });
    const dir = tmp('oci');
    const blobs = tmp('oci-blobs');
    await expect(exporter(blobs).export(fx.input, { dest: join(dir, 'image.tar') }, quiet)).rejects.toThrow('snapshot diff failed');
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(blobs)).toEqual([]);
  });

  test('an existing blob whose bytes do not match its digest fails the export, old dest kept', async () => {
    const fx = await makeFixture({ existingLower: true });
    fx.input.layers[0].existing!.open = async () => new Response(fx.lowerGzip.slice().fill(1, 100, 101)).body!;
    const dir = tmp('oci');
    const dest = join(dir, 'image.tar');
    writeFileSync(dest, 'previous export');
    await expect(exporter().export(fx.input, { dest }, quiet)).rejects.toThrow(`blobs/sha256/${sha256(fx.lowerGzip).slice(7)}: content hashes to`);
    expect(readFileSync(dest, 'utf8')).toBe('previous export');
    expect(readdirSync(dir)).toEqual(['image.tar']);

    const layout = join(dir, 'layout');
    mkdirSync(layout);
    await expect(exporter().export((await makeFixture()).input, { dest: layout, tar: 'false' }, quiet, failAfter(1))).rejects.toThrow('cancelled mid-export');
    expect(readdirSync(layout)).toEqual([]);
    expect(existsSync(join(dir, 'layout'))).toBe(true);
  });

  test('dest=- streams the same tarball to stdout', async () => {
    const fx = await makeFixture({ epoch: 1_650_000_000 });
    const dir = tmp('oci');
    await exporter().export(fx.input, { dest: join(dir, 'file.tar') }, quiet);
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c) => chunks.push(c));
    await ociExporter({ compressors, tmpDir: tmp('oci-blobs'), stdout: out }).export((await makeFixture({ epoch: 1_650_000_000 })).input, { dest: '-' }, quiet);
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(readFileSync(join(dir, 'file.tar'))));
    await expect(exporter().export(fx.input, { dest: '-', tar: 'false' }, quiet)).rejects.toThrow('exporter oci: tar=false needs dest=DIR, not -');
  });

  test('unknown attributes are refused', async () => {
    const fx = await makeFixture();
    await expect(exporter().export(fx.input, { dest: '/tmp/x.tar', push: 'true' }, quiet)).rejects.toThrow('exporter oci: unknown attribute "push"');
  });
});
