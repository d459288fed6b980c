import { afterAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { uncompressedCompressor } from '../../../plugins/compressor-uncompressed/index.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { sha256, streamOf, tmp, removeTemps } from '../../core/export/fixture.ts';

afterAll(removeTemps);

describe('compressor uncompressed', () => {
  test('stores the tar as it is: digest equals diffID', async () => {
    const data = new TextEncoder().encode('plain tar bytes'.repeat(100));
    const blob = await uncompressedCompressor().compress(streamOf(data), { oci: true, tmpDir: tmp('raw') });
    expect(readFileSync(blob.path)).toEqual(Buffer.from(data));
    expect(blob.digest).toBe(sha256(data));
    expect(blob.diffID).toBe(blob.digest);
    expect(blob.size).toBe(data.length);
    expect(blob.mediaType).toBe(MediaType.ociLayer);
    const c = uncompressedCompressor();
    expect(c.mediaType(false)).toBe(MediaType.dockerLayer);
    expect(c.matches({ mediaType: MediaType.dockerLayer, digest: blob.digest, size: 1 })).toBe(true);
    expect(c.matches({ mediaType: MediaType.ociLayerGzip, digest: blob.digest, size: 1 })).toBe(false);
  });
});
