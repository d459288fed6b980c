// estargz / zstdchunked compressors: the reference Go package accepts what they write, our reader
// reads back the source tar, and the image builder keeps or converts layers as BuildKit does.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { estargzCompressor } from '../../../plugins/compressor-estargz/index.ts';
import { openEstargz, bytesSource, PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION, ZSTD_MANIFEST_CHECKSUM_ANNOTATION } from '../../../plugins/snapshotter-stargz/estargz/index.ts';
import { buildImage } from '../../../core/export/image-builder.ts';
import { gzipCompressor } from '../../../plugins/compressor-gzip/index.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { digestOf } from '../../../core/content/digest.ts';
import { buildChecker, goVerify } from '../../interop/estargz-check/build-checker.ts';
import { cleanName, extractTar, sampleTar } from '../snapshotter-stargz/estargz/fixtures.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';

let checker = '';
beforeAll(() => {
  checker = buildChecker();
});
afterAll(removeTempDirs);

const streamOf = (b: Uint8Array) => new Response(b).body as ReadableStream<Uint8Array>;
const defaults = { level: 9, chunkSize: 4 << 20, workers: 0 };

describe('compressor estargz', () => {
  test('round trip: reference verifies, our reader reads the source tar back', async () => {
    const tar = await sampleTar();
    const blob = await estargzCompressor('gzip', defaults).compress(streamOf(tar), { oci: true, tmpDir: tempDir('eb-estgz-') });
    const bytes = new Uint8Array(readFileSync(blob.path));
    expect(blob.digest).toBe(digestOf(bytes));
    expect(blob.size).toBe(bytes.length);
    expect(blob.mediaType).toBe(MediaType.ociLayerGzip);
    const toc = blob.annotations![TOC_DIGEST_ANNOTATION];
    expect(toc).toMatch(/^sha256:[0-9a-f]{64}$/);
    const go = goVerify(checker, blob.path, toc);
    expect(go.diffID).toBe(blob.diffID);
    expect(String(go.uncompressedSize)).toBe(blob.annotations![UNCOMPRESSED_SIZE_ANNOTATION]);
    // The TOC entry changes the stream, so the diffID is not the source tar's.
    expect(blob.diffID).not.toBe(digestOf(tar));

    const reader = await openEstargz(bytesSource(bytes), { layerDigest: blob.digest, expectedTocDigest: toc });
    for (const { header, data } of await extractTar(tar)) {
      const f = reader.lookup(cleanName(header.name));
      expect(f, header.name).toBeDefined();
      if (header.type === 'file') expect(Buffer.from(await reader.readFile(f!)).equals(Buffer.from(data))).toBe(true);
    }
  });

  test('prioritized files and chunk size come from extra; Docker media type without oci', async () => {
    const tar = await sampleTar();
    const names = (await extractTar(tar)).filter((e) => e.header.type === 'file').map((e) => cleanName(e.header.name));
    const want = names.slice(-1);
    const blob = await estargzCompressor('gzip', defaults).compress(streamOf(gzipSync(tar)), { oci: false, level: 1, tmpDir: tempDir('eb-estgz-'), extra: { prioritizedFiles: want, chunkSize: 1024 } });
    expect(blob.mediaType).toBe(MediaType.dockerLayerGzip);
    goVerify(checker, blob.path, blob.annotations![TOC_DIGEST_ANNOTATION]);
    const reader = await openEstargz(bytesSource(new Uint8Array(readFileSync(blob.path))), { layerDigest: blob.digest });
    const mark = reader.landmark();
    expect(mark.kind).toBe('prefetch');
    expect(mark.prioritizedFiles).toContain(want[0]);
    expect(reader.lookup(PREFETCH_LANDMARK)).toBeDefined();
  });

  test('bad level, chunk size and tar are one-line errors', async () => {
    const c = estargzCompressor('gzip', defaults);
    const dir = tempDir('eb-estgz-');
    await expect(c.compress(streamOf(new Uint8Array(1024)), { oci: true, level: 12, tmpDir: dir })).rejects.toThrow('compressor estargz: compression-level 12 is out of range 0–9');
    await expect(c.compress(streamOf(await sampleTar()), { oci: true, tmpDir: dir, extra: { chunkSize: -1 } })).rejects.toThrow('compressor estargz: chunk size -1 must be a positive integer');
    await expect(c.compress(streamOf(new TextEncoder().encode('not a tar at all'.repeat(40))), { oci: true, tmpDir: dir })).rejects.toThrow(/^compressor estargz: /);
    expect(Array.from(new Bun.Glob('*').scanSync(dir))).toEqual([]); // no temp files left
  });

  test('matches only layers with a TOC digest', () => {
    const c = estargzCompressor('gzip', defaults);
    const d = { mediaType: MediaType.ociLayerGzip, digest: 'sha256:' + '0'.repeat(64), size: 1 };
    expect(c.matches(d)).toBe(false);
    expect(c.matches({ ...d, annotations: { [TOC_DIGEST_ANNOTATION]: 'sha256:' + '1'.repeat(64) } })).toBe(true);
    expect(c.matches({ ...d, mediaType: MediaType.ociLayerZstd, annotations: { [TOC_DIGEST_ANNOTATION]: 'x' } })).toBe(false);
  });
});

describe('compressor zstdchunked', () => {
  test('round trip verifies with the reference', async () => {
    const tar = await sampleTar();
    const blob = await estargzCompressor('zstd-chunked', { ...defaults, level: 3 }).compress(streamOf(tar), { oci: false, tmpDir: tempDir('eb-zstdc-') });
    expect(blob.mediaType).toBe(MediaType.ociLayerZstd);
    expect(blob.annotations![ZSTD_MANIFEST_CHECKSUM_ANNOTATION]).toMatch(/^sha256:/);
    const go = goVerify(checker, blob.path, blob.annotations![TOC_DIGEST_ANNOTATION]);
    expect(go.diffID).toBe(blob.diffID);
  });
});

describe('image builder with compression=estargz', () => {
  async function build(force: boolean) {
    const tar = await sampleTar();
    const plainGz = new Uint8Array(gzipSync(tar));
    const existing = { mediaType: MediaType.ociLayerGzip, digest: digestOf(plainGz), size: plainGz.length };
    const compressors = new Map([['estargz', estargzCompressor('gzip', defaults)], ['gzip', gzipCompressor()]]);
    return buildImage(
      {
        rootfs: '/nonexistent',
        scratch: false,
        imageConfig: { architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [] } },
        layers: [
          { diffID: digestOf(tar), openTar: async () => streamOf(tar), existing: { descriptor: existing, open: async () => streamOf(plainGz) } },
          { diffID: digestOf(tar), openTar: async () => streamOf(tar) },
        ],
      },
      { exporter: 'test', tmpDir: tempDir('eb-ib-'), compressors, compression: 'estargz', force, oci: true } as never,
      { log: () => {} },
    );
  }

  test('without force-compression a plain gzip base layer is kept and noted; with it, converted', async () => {
    const kept = await build(false);
    try {
      expect(kept.layers[0].reused).toBe(true);
      expect(kept.notes.join('\n')).toMatch(/layer 1 .* kept as application\/vnd\.oci\.image\.layer\.v1\.tar\+gzip \(no force-compression\)/);
      expect(kept.layers[1].descriptor.annotations?.[TOC_DIGEST_ANNOTATION]).toBeDefined();
      const config = JSON.parse(new TextDecoder().decode(kept.config.bytes));
      // The converted layer's diff_id is the eStargz stream's (with its TOC entry), as the reference checks.
      expect(config.rootfs.diff_ids[1]).toBe(goVerify(checker, kept.layers[1].path!, undefined).diffID);
    } finally {
      await kept.dispose();
    }
    const forced = await build(true);
    try {
      expect(forced.layers.every((l) => !l.reused && l.descriptor.annotations?.[TOC_DIGEST_ANNOTATION])).toBe(true);
      const config = JSON.parse(new TextDecoder().decode(forced.config.bytes));
      for (const [i, l] of forced.layers.entries()) expect(goVerify(checker, l.path!, l.descriptor.annotations![TOC_DIGEST_ANNOTATION]).diffID).toBe(config.rootfs.diff_ids[i]);
    } finally {
      await forced.dispose();
    }
  });
});
