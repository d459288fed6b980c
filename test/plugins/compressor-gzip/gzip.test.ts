import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync, readdirSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { gzipCompressor, gzipPlugin } from '../../../plugins/compressor-gzip/index.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { sha256, streamOf, tmp, removeTemps } from '../../core/export/fixture.ts';

afterAll(removeTemps);

// Text with some repetition so levels differ measurably.
const data = new TextEncoder().encode(Array.from({ length: 40000 }, (_, i) => `line ${i % 977} ${(i * 7919) % 10007}\n`).join(''));

describe('compressor gzip', () => {
  test('round trip: digest, size and diffID describe the written file', async () => {
    const dir = tmp('gz');
    const blob = await gzipCompressor().compress(streamOf(data), { oci: true, tmpDir: dir });
    const bytes = readFileSync(blob.path);
    expect(gunzipSync(bytes)).toEqual(Buffer.from(data));
    expect(blob.digest).toBe(sha256(bytes));
    expect(blob.size).toBe(bytes.length);
    expect(blob.diffID).toBe(sha256(data));
    expect(blob.mediaType).toBe(MediaType.ociLayerGzip);
    const docker = await gzipCompressor().compress(streamOf(data), { oci: false, tmpDir: dir });
    expect(docker.mediaType).toBe(MediaType.dockerLayerGzip);
  });

  test('compression-level changes the output: 1 is bigger than 9, 0 stores', async () => {
    const dir = tmp('gz');
    const sizes: Record<number, number> = {};
    for (const level of [0, 1, 9]) sizes[level] = (await gzipCompressor().compress(streamOf(data), { oci: true, tmpDir: dir, level })).size;
    expect(sizes[0]).toBeGreaterThan(data.length);
    expect(sizes[1]).toBeGreaterThan(sizes[9]);
    await expect(gzipCompressor().compress(streamOf(data), { oci: true, tmpDir: dir, level: 10 })).rejects.toThrow('compressor gzip: compression-level 10 is out of range 0–9');
  });

  test('a failing input stream leaves no temp file', async () => {
    const dir = tmp('gz');
    const failing = new ReadableStream<Uint8Array>({
      pull(c) {
        c.enqueue(data.subarray(0, 1000));
        c.error(new Error('snapshot read failed'));
      },
    });
    await expect(gzipCompressor().compress(failing, { oci: true, tmpDir: dir })).rejects.toThrow('snapshot read failed');
    expect(readdirSync(dir)).toEqual([]);
  });

  test('matches gzip media types but not eStargz blobs', () => {
    const c = gzipCompressor();
    const d = { digest: 'sha256:' + '0'.repeat(64), size: 1 };
    expect(c.matches({ ...d, mediaType: MediaType.dockerLayerGzip })).toBe(true);
    expect(c.matches({ ...d, mediaType: MediaType.ociLayerGzip })).toBe(true);
    expect(c.matches({ ...d, mediaType: MediaType.ociLayerGzip, annotations: { 'containerd.io/snapshot/stargz/toc.digest': 'sha256:' + '1'.repeat(64) } })).toBe(false);
    expect(c.matches({ ...d, mediaType: MediaType.ociLayerZstd })).toBe(false);
  });

  test('plugin config sets the default level', async () => {
    const inst = await gzipPlugin.init({ config: { 'compression-level': 1 } } as never);
    const a = await inst.compress(streamOf(data), { oci: true, tmpDir: tmp('gz') });
    const b = await gzipCompressor(1).compress(streamOf(data), { oci: true, tmpDir: tmp('gz') });
    expect(a.digest).toBe(b.digest);
  });
});
