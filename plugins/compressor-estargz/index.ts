// Compressor plugins `estargz` (gzip eStargz) and `zstdchunked` (zstd:chunked): lazily pullable
// layers with a TOC, written by the stargz plugin's format library.
import * as v from 'valibot';
import { availableParallelism } from 'node:os';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor } from '../../core/export/types.ts';
import { DEFAULT_CHUNK_SIZE, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL } from '../snapshotter-stargz/estargz/constants.ts';
import { estargzCompressor } from './compressor.ts';

export { estargzCompressor, convertTarToFile } from './compressor.ts';
export type { EstargzFormat, EstargzDefaults } from './compressor.ts';

const chunkSize = v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), DEFAULT_CHUNK_SIZE);
/** One Worker per core by default; the output does not depend on how many there are. */
const workers = v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(64)), () => availableParallelism());

const EstargzConfigSchema = v.strictObject({
  /** gzip level when the export gives no compression-level (the reference's default is 9). */
  'compression-level': v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(9)), DEFAULT_GZIP_LEVEL),
  /** Uncompressed bytes per chunk (4 MiB like the reference). */
  'chunk-size': chunkSize,
  workers,
});
type EstargzConfig = v.InferOutput<typeof EstargzConfigSchema>;

const ZstdChunkedConfigSchema = v.strictObject({
  'compression-level': v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(22)), DEFAULT_ZSTD_LEVEL),
  'chunk-size': chunkSize,
  workers,
});
type ZstdChunkedConfig = v.InferOutput<typeof ZstdChunkedConfigSchema>;

export const estargzPlugin: PluginRegistration<EstargzConfig, Compressor> = {
  kind: 'compressor',
  id: 'estargz',
  description: 'eStargz layers (gzip, lazily pullable, with TOC digest annotations)',
  config: EstargzConfigSchema,
  init: (ctx) => estargzCompressor('gzip', { level: ctx.config['compression-level'], chunkSize: ctx.config['chunk-size'], workers: ctx.config.workers }),
};

export const zstdchunkedPlugin: PluginRegistration<ZstdChunkedConfig, Compressor> = {
  kind: 'compressor',
  id: 'zstdchunked',
  description: 'zstd:chunked layers (zstd frames, lazily pullable, with TOC digest annotations)',
  config: ZstdChunkedConfigSchema,
  init: (ctx) => estargzCompressor('zstd-chunked', { level: ctx.config['compression-level'], chunkSize: ctx.config['chunk-size'], workers: ctx.config.workers }),
};
