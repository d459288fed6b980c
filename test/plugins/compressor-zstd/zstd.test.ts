import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { zstdDecompressSync } from 'node:zlib';
import { spawnSync } from 'node:child_process';
import { zstdCompressor } from '../../../plugins/compressor-zstd/index.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { sha256, streamOf, tmp, removeTemps } from '../../core/export/fixture.ts';

afterAll(removeTemps);

const data = new TextEncoder().encode(Array.from({ length: 40000 }, (_, i) => `row ${i % 1231} ${(i * 7919) % 10007}\n`).join(''));

describe('compressor zstd', () => {
  test('round trip through node:zlib and the zstd CLI', async () => {
    const blob = await zstdCompressor().compress(streamOf(data), { oci: false, tmpDir: tmp('zst') });
    const bytes = readFileSync(blob.path);
    expect(zstdDecompressSync(bytes)).toEqual(Buffer.from(data));
    const cli = spawnSync('zstd', ['-dc', blob.path]);
    expect(cli.status).toBe(0);
    expect(sha256(cli.stdout)).toBe(sha256(data));
    expect(blob.digest).toBe(sha256(bytes));
    expect(blob.diffID).toBe(sha256(data));
    // Docker schema2 has no zstd type: the OCI one is used for both.
    expect(blob.mediaType).toBe(MediaType.ociLayerZstd);
  });

  test('compression-level changes the output and is range checked', async () => {
    const dir = tmp('zst');
    const fast = await zstdCompressor().compress(streamOf(data), { oci: true, tmpDir: dir, level: 1 });
    const best = await zstdCompressor().compress(streamOf(data), { oci: true, tmpDir: dir, level: 19 });
    expect(fast.size).toBeGreaterThan(best.size);
    await expect(zstdCompressor().compress(streamOf(data), { oci: true, tmpDir: dir, level: 23 })).rejects.toThrow('out of range 0–22');
  });

  test('matches zstd but not zstd:chunked', () => {
    const c = zstdCompressor();
    const d = { digest: 'sha256:' + '0'.repeat(64), size: 1, mediaType: MediaType.ociLayerZstd };
    expect(c.matches(d)).toBe(true);
    expect(c.matches({ ...d, annotations: { 'io.github.containers.zstd-chunked.manifest-checksum': 'sha256:x' } })).toBe(false);
    expect(c.matches({ ...d, mediaType: MediaType.ociLayerGzip })).toBe(false);
  });
});
