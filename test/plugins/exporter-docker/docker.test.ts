import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { dockerExporter } from '../../../plugins/exporter-docker/index.ts';
import { compressors, makeFixture, quiet, sha256, tmp, removeTemps } from '../../core/export/fixture.ts';
import { MediaType } from '../../../core/image/media-types.ts';

afterAll(removeTemps);

const run = (cmd: string, args: string[], cwd?: string) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};

describe('exporter docker', () => {
  test('docker-archive read by skopeo, with manifest.json and repositories as docker load expects', async () => {
    const fx = await makeFixture({ epoch: 1_700_000_000 });
    const dir = tmp('docker');
    const dest = join(dir, 'image.tar');
    const res = await dockerExporter({ compressors, tmpDir: tmp('docker-blobs') }).export(fx.input, { dest, name: 'myapp:1.0,example.com/x/y' }, quiet);
    const inspect = JSON.parse(run('skopeo', ['inspect', `docker-archive:${dest}`]));
    expect(inspect.Architecture).toBe('amd64');
    expect(inspect.Layers).toHaveLength(2);
    // copying reads every layer file and checks it against the config's diff_ids.
    run('skopeo', ['copy', `docker-archive:${dest}`, `dir:${join(dir, 'copied')}`]);

    const x = join(dir, 'x');
    mkdirSync(x);
    run('tar', ['-xf', dest, '-C', x]);
    expect(readdirSync(x).sort()).toEqual(['blobs', 'index.json', 'manifest.json', 'oci-layout', 'repositories']);
    const manifest = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'));
    expect(manifest).toHaveLength(1);
    expect(manifest[0].RepoTags).toEqual(['myapp:1.0', 'example.com/x/y:latest']);
    const image = JSON.parse(readFileSync(join(x, 'blobs/sha256', res.digest!.slice(7)), 'utf8'));
    expect(image.mediaType).toBe(MediaType.dockerManifest);
    expect(manifest[0].Config).toBe(`blobs/sha256/${image.config.digest.slice(7)}`);
    const config = JSON.parse(readFileSync(join(x, manifest[0].Config), 'utf8'));
    // docker load checks each layer file against rootfs.diff_ids after decompressing it.
    manifest[0].Layers.forEach((p: string, i: number) => expect(sha256(gunzipSync(readFileSync(join(x, p))))).toBe(config.rootfs.diff_ids[i]));
    const top = image.layers[1].digest.slice(7);
    expect(JSON.parse(readFileSync(join(x, 'repositories'), 'utf8'))).toEqual({ myapp: { '1.0': top }, 'example.com/x/y': { latest: top } });
  });

  test('unknown attribute names the exporter', async () => {
    const fx = await makeFixture();
    await expect(dockerExporter({ compressors, tmpDir: tmp('d') }).export(fx.input, { dest: '/tmp/x.tar', tar: 'false' }, quiet)).rejects.toThrow(
      'exporter docker: unknown attribute "tar" (accepted: dest, name, compression, compression-level, force-compression, oci-mediatypes, estargz-optimize)',
    );
  });
});
