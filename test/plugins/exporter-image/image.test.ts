import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { imageExporter, withInsecure } from '../../../plugins/exporter-image/index.ts';
import { ContentStore } from '../../../core/content/store.ts';
import { ImageStore } from '../../../core/content/images.ts';
import { RegistryClient } from '../../../core/registry/client.ts';
import { compressors, makeFixture, quiet, sha256, tmp, removeTemps } from '../../core/export/fixture.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';
import { MediaType } from '../../../core/image/media-types.ts';

afterAll(removeTemps);

function exporterAt(root: string, id: 'image' | 'registry' = 'image') {
  return imageExporter({
    compressors,
    tmpDir: join(root, 'tmp'),
    contentStore: () => new ContentStore(root),
    imageStore: () => new ImageStore(root),
    registryClient: (hosts) => new RegistryClient({ registries: withInsecure({}, hosts) }),
  }, { id });
}

const skopeoRaw = (ref: string) => {
  const r = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${ref}`]);
  if (r.status !== 0) throw new Error(`skopeo inspect ${ref}: ${r.stderr}`);
  return r.stdout;
};

describe('exporter image (local store)', () => {
  test('store=true writes blobs and manifest to the content store and records the names', async () => {
    const root = tmp('image-root');
    const fx = await makeFixture();
    const res = await exporterAt(root).export(fx.input, { name: 'app:1,example.com/app:2' }, quiet);
    const store = new ContentStore(root);
    const manifest = JSON.parse(new TextDecoder().decode(await store.read(res.digest!)));
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    for (const d of [manifest.config, ...manifest.layers]) expect(await store.has(d.digest)).toBe(true);
    const rec = await new ImageStore(root).get('docker.io/library/app:1');
    expect(rec?.manifest.digest).toBe(res.digest!);
    expect(rec?.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    expect((await new ImageStore(root).get('example.com/app:2'))?.manifest.digest).toBe(res.digest!);
    expect(res.notes).toContain('stored as docker.io/library/app:1, example.com/app:2');
    expect(readdirSync(join(root, 'tmp'))).toEqual([]);
  });

  test('attribute errors: unknown, push without name, bad name', async () => {
    const fx = await makeFixture();
    const e = exporterAt(tmp('image-root'));
    await expect(e.export(fx.input, { name: 'a', dest: '/x' }, quiet)).rejects.toThrow('exporter image: unknown attribute "dest"');
    await expect(e.export(fx.input, { push: 'true' }, quiet)).rejects.toThrow('exporter image: push=true needs name=REF');
    await expect(e.export(fx.input, { name: 'Bad/Name' }, quiet)).rejects.toThrow('invalid reference "Bad/Name"');
  });
});

describe('exporter image (push)', () => {
  let reg: TestRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('[slow] push=true: skopeo sees our manifest byte for byte; SOURCE_DATE_EPOCH gives the same digest twice', async () => {
    const root = tmp('image-root');
    const a = await exporterAt(root).export((await makeFixture({ epoch: 1_650_000_000 })).input, { name: `${reg.host}/demo/app:v1`, push: 'true' }, quiet);
    const raw = skopeoRaw(`${reg.host}/demo/app:v1`);
    expect(sha256(raw)).toBe(a.digest!);
    expect(raw).toEqual(Buffer.from(await new ContentStore(root).read(a.digest!)));
    expect(a.notes.filter((n) => n.includes('uploaded'))).toHaveLength(3);

    // Rebuilt from scratch with the same epoch: same digest, and every blob is already there (HEAD).
    const b = await exporterAt(tmp('image-root')).export((await makeFixture({ epoch: 1_650_000_000 })).input, { name: `${reg.host}/demo/app:v2`, push: 'true', store: 'false' }, quiet);
    expect(b.digest).toBe(a.digest);
    expect(b.notes.filter((n) => n.includes('already in demo/app'))).toHaveLength(3);
    expect(b.notes.some((n) => n.includes('uploaded'))).toBe(false);

    // type=registry is image with push=true by default.
    const c = await exporterAt(tmp('image-root'), 'registry').export((await makeFixture({ epoch: 1_650_000_000 })).input, { name: `${reg.host}/demo/app:v3` }, quiet);
    expect(c.notes).toContain(`pushed ${reg.host}/demo/app:v3 ${a.digest}`);
    await expect(exporterAt(tmp('image-root'), 'registry').export((await makeFixture()).input, {}, quiet)).rejects.toThrow('exporter registry: push=true needs name=REF');
  });

  test('[slow] an existing layer from another repository of the registry is mounted, not uploaded', async () => {
    const root = tmp('image-root');
    const fx = await makeFixture({ existingLower: true, epoch: 1 });
    // Put the base layer into repository "base" first.
    const client = new RegistryClient();
    const baseRepo = { registry: reg.host, repository: 'base' };
    await client.uploadBlob(baseRepo, sha256(fx.lowerGzip), fx.lowerGzip.length, fx.lowerGzip);
    fx.input.layers[0].existing!.sourceRepository = `${reg.host}/base`;
    const res = await exporterAt(root).export(fx.input, { name: `${reg.host}/other/app:1`, push: 'true', 'oci-mediatypes': 'false' }, quiet);
    expect(res.notes).toContain(`${sha256(fx.lowerGzip).slice(0, 19)} mounted from base`);
    const manifest = JSON.parse(skopeoRaw(`${reg.host}/other/app:1`).toString());
    expect(manifest.mediaType).toBe(MediaType.dockerManifest);
    expect(manifest.layers[0]).toEqual({ mediaType: MediaType.dockerLayerGzip, digest: sha256(fx.lowerGzip), size: fx.lowerGzip.length });
    // skopeo can copy the whole image out: every blob is really there.
    const out = tmp('image-copy');
    const cp = spawnSync('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/other/app:1`, `oci:${join(out, 'l')}:x`]);
    expect(cp.status).toBe(0);
    expect(existsSync(join(out, 'l', 'index.json'))).toBe(true);
    expect(readFileSync(join(out, 'l', 'blobs', 'sha256', sha256(fx.lowerGzip).slice(7))).length).toBe(fx.lowerGzip.length);
  });
});
