// zstd layers with node:zlib's native zstd stream (Bun 1.4 has createZstdCompress). Docker schema2
// has no zstd layer type, so the OCI type is used in Docker manifests too (as BuildKit does).
import * as v from 'valibot';
import { constants, createZstdCompress } from 'node:zlib';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor, Descriptor } from '../../core/export/types.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { compressToFile } from '../../core/export/compress-stream.ts';

/** zstd:chunked blobs are zstd too; plain "zstd" means one without that manifest. */
const ZSTD_CHUNKED_ANNOTATION = 'io.github.containers.zstd-chunked.manifest-checksum';
const MAX_LEVEL = 22;

const ConfigSchema = v.strictObject({
  /** Native zstd level 1–22 (0 means zstd's default, 3). */
  'compression-level': v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(MAX_LEVEL)), 3),
});
type Config = v.InferOutput<typeof ConfigSchema>;

const ZSTD_TYPES = new Set<string>([MediaType.ociLayerZstd, MediaType.ociLayerNondistributableZstd]);

export function zstdCompressor(defaultLevel = 3): Compressor {
  return {
    mediaType: () => MediaType.ociLayerZstd,
    matches: (desc: Descriptor) => ZSTD_TYPES.has(desc.mediaType) && desc.annotations?.[ZSTD_CHUNKED_ANNOTATION] === undefined,
    async compress(tar, opts) {
      const level = opts.level ?? defaultLevel;
      if (!Number.isInteger(level) || level < 0 || level > MAX_LEVEL) throw new Error(`compressor zstd: compression-level ${level} is out of range 0–${MAX_LEVEL}`);
      const codec = createZstdCompress({ params: { [constants.ZSTD_c_compressionLevel]: level } });
      const file = await compressToFile(tar, codec, opts.tmpDir);
      return { ...file, mediaType: MediaType.ociLayerZstd };
    },
  };
}

export const zstdPlugin: PluginRegistration<Config, Compressor> = {
  kind: 'compressor',
  id: 'zstd',
  description: 'zstd layer compression (node:zlib native zstd)',
  config: ConfigSchema,
  init: (ctx) => zstdCompressor(ctx.config['compression-level']),
};

export default zstdPlugin;
