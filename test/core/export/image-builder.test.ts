import { afterAll, describe, expect, test } from 'bun:test';
import { readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { buildImage } from '../../../core/export/image-builder.ts';
import { parseImageAttrs } from '../../../core/export/image-attrs.ts';
import { stableJson } from '../../../core/export/stable-json.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { compressors, makeFixture, quiet, sha256, tmp, removeTemps } from './fixture.ts';

afterAll(removeTemps);

const opts = (attrs: Record<string, string>, oci = true) => ({ ...parseImageAttrs('test', attrs, { oci }), exporter: 'test', tmpDir: tmp('img'), compressors: compressors() });

describe('image builder', () => {
  test('compresses layers, lists their diffIDs in the config and writes an OCI manifest', async () => {
    const fx = await makeFixture();
    const img = await buildImage(fx.input, opts({}), quiet);
    const manifest = JSON.parse(new TextDecoder().decode(img.manifest.bytes));
    const config = JSON.parse(new TextDecoder().decode(img.config.bytes));
    expect(manifest.mediaType).toBe(MediaType.ociManifest);
    expect(manifest.config).toEqual(img.config.descriptor);
    expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([MediaType.ociLayerGzip, MediaType.ociLayerGzip]);
    expect(config.rootfs).toEqual({ type: 'layers', diff_ids: fx.tars.map(sha256) });
    expect(img.manifest.descriptor.digest).toBe(sha256(img.manifest.bytes));
    const layer = await new Response(await img.layers[1].open()).bytes();
    expect(gunzipSync(layer)).toEqual(Buffer.from(fx.tars[1]));
    expect(img.platform).toEqual({ os: 'linux', architecture: 'amd64' });
    await img.dispose();
  });

  test('same input with SOURCE_DATE_EPOCH gives the same manifest digest; created and history are clamped', async () => {
    const epoch = 1_600_000_000;
    const a = await buildImage((await makeFixture({ epoch })).input, opts({}), quiet);
    const b = await buildImage((await makeFixture({ epoch })).input, opts({}), quiet);
    expect(a.manifest.descriptor.digest).toBe(b.manifest.descriptor.digest);
    const config = JSON.parse(new TextDecoder().decode(a.config.bytes));
    expect(config.created).toBe('2020-09-13T12:26:40Z');
    expect(config.history.map((h: { created: string }) => h.created)).toEqual(['2020-09-13T12:26:40Z', '2001-01-01T00:00:00Z']);
    await a.dispose();
    await b.dispose();
  });

  test('an existing blob is kept (with its media type renamed for the manifest family) unless force-compression', async () => {
    const fx = await makeFixture({ existingLower: true });
    const kept = await buildImage(fx.input, opts({ compression: 'zstd' }), quiet);
    expect(kept.layers[0].descriptor).toEqual({ mediaType: MediaType.ociLayerGzip, digest: sha256(fx.lowerGzip), size: fx.lowerGzip.length });
    expect(kept.layers[0].reused).toBe(true);
    expect(kept.layers[1].descriptor.mediaType).toBe(MediaType.ociLayerZstd);
    expect(kept.notes.join('\n')).toContain(`layer 1 ${sha256(fx.lowerGzip).slice(7, 19)} kept as ${MediaType.dockerLayerGzip}`);

    const forced = await buildImage(fx.input, opts({ compression: 'zstd', 'force-compression': 'true' }), quiet);
    expect(forced.layers.map((l) => l.descriptor.mediaType)).toEqual([MediaType.ociLayerZstd, MediaType.ociLayerZstd]);
    expect(forced.notes).toEqual([]);

    // force-compression with the blob's own compression keeps it: nothing to redo.
    const same = await buildImage(fx.input, opts({ compression: 'gzip', 'force-compression': 'true' }, false), quiet);
    expect(same.layers[0].descriptor.digest).toBe(sha256(fx.lowerGzip));
    expect(same.layers[0].descriptor.mediaType).toBe(MediaType.dockerLayerGzip);
    for (const i of [kept, forced, same]) await i.dispose();
  });

  test('docker media types with oci-mediatypes=false; zstd keeps the OCI layer type', async () => {
    const fx = await makeFixture();
    const img = await buildImage(fx.input, opts({ compression: 'zstd' }, false), quiet);
    const manifest = JSON.parse(new TextDecoder().decode(img.manifest.bytes));
    expect(manifest.mediaType).toBe(MediaType.dockerManifest);
    expect(manifest.config.mediaType).toBe(MediaType.dockerConfig);
    expect(manifest.layers[0].mediaType).toBe(MediaType.ociLayerZstd);
    await img.dispose();
  });

  test('dispose removes the compressed temp files; a failing layer leaves none behind', async () => {
    const fx = await makeFixture();
    const o = opts({});
    const img = await buildImage(fx.input, o, quiet);
    expect(readdirSync(o.tmpDir).length).toBe(2);
    await img.dispose();
    expect(readdirSync(o.tmpDir)).toEqual([]);

    fx.input.layers[1].openTar = async () => new ReadableStream({ pull: (c) => c.error(new Error('diff failed at etc/conf')) });
    const o2 = opts({});
    await expect(buildImage(fx.input, o2, quiet)).rejects.toThrow('diff failed at etc/conf');
    expect(readdirSync(o2.tmpDir)).toEqual([]);
  });

  test('unknown compression names the exporter and what exists', async () => {
    const fx = await makeFixture();
    await expect(buildImage(fx.input, opts({ compression: 'lz4' }), quiet)).rejects.toThrow('exporter test: compression "lz4" is not available (compressors: gzip, uncompressed, zstd)');
    expect(() => parseImageAttrs('oci', { 'oci-mediatypes': 'maybe' }, { oci: true })).toThrow('exporter oci: attribute oci-mediatypes="maybe": expected true or false');
  });

  test('stable JSON sorts keys at every level', () => {
    expect(stableJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe('{"a":{"d":[{"y":2,"z":1}]},"b":1}');
  });
});
