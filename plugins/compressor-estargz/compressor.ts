// eStargz (gzip) and zstd:chunked layer compressors over the stargz plugin's format library. The
// layer tar is spooled to a temp file first: the writer maps it, reorders entries (prioritized
// files, landmark) and needs random access, which a one-pass stream cannot give.
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { CompressedBlob, Compressor, CompressOptions, Descriptor } from '../../core/export/types.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { isEstargz } from '../../core/image/estargz.ts';
import { buildEstargz } from '../../plugins/snapshotter-stargz/estargz/index.ts';

export type EstargzFormat = 'gzip' | 'zstd-chunked';

export interface EstargzDefaults {
  /** gzip 0–9 / zstd 1–22; the reference's defaults are 9 (BestCompression) and 3. */
  level: number;
  chunkSize: number;
  /** Compression Workers; the blob's bytes do not depend on it. */
  workers: number;
}

const GZIP_TYPES = new Set<string>([MediaType.ociLayerGzip, MediaType.dockerLayerGzip, MediaType.ociLayerNondistributableGzip, MediaType.dockerLayerForeignGzip]);
const ZSTD_TYPES = new Set<string>([MediaType.ociLayerZstd, MediaType.ociLayerNondistributableZstd]);
const LEVEL_RANGE: Record<EstargzFormat, [number, number]> = { gzip: [0, 9], 'zstd-chunked': [1, 22] };

function idOf(format: EstargzFormat): string {
  return format === 'gzip' ? 'estargz' : 'zstdchunked';
}

/** Reads `extra.prioritizedFiles` / `extra.chunkSize`, refusing values of the wrong shape. */
function extrasOf(id: string, extra: Record<string, unknown> | undefined): { prioritizedFiles?: string[]; chunkSize?: number } {
  const out: { prioritizedFiles?: string[]; chunkSize?: number } = {};
  const pf = extra?.prioritizedFiles;
  if (pf !== undefined) {
    if (!Array.isArray(pf) || pf.some((p) => typeof p !== 'string')) throw new Error(`compressor ${id}: prioritizedFiles must be a list of paths`);
    out.prioritizedFiles = pf as string[];
  }
  const cs = extra?.chunkSize;
  if (cs !== undefined) {
    if (typeof cs !== 'number' || !Number.isSafeInteger(cs) || cs <= 0) throw new Error(`compressor ${id}: chunk size ${String(cs)} must be a positive integer`);
    out.chunkSize = cs;
  }
  return out;
}

async function spool(tar: ReadableStream<Uint8Array>, tmpDir: string): Promise<string> {
  await mkdir(tmpDir, { recursive: true });
  const path = join(tmpDir, `tar-${randomBytes(8).toString('hex')}.tmp`);
  try {
    await pipeline(Readable.fromWeb(tar as import('node:stream/web').ReadableStream<Uint8Array>), createWriteStream(path));
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
  return path;
}

/** Converts a layer tar (plain, gzip or zstd) into an eStargz / zstd:chunked blob in a temp file. */
export async function convertTarToFile(
  tar: ReadableStream<Uint8Array> | { path: string },
  format: EstargzFormat,
  opts: { level: number; chunkSize: number; workers: number; prioritizedFiles?: string[]; tmpDir: string },
): Promise<CompressedBlob & { tocDigest: string; uncompressedSize: number; missedPrioritizedFiles: string[] }> {
  const spooled = tar instanceof ReadableStream ? await spool(tar, opts.tmpDir) : undefined;
  await mkdir(opts.tmpDir, { recursive: true });
  const path = join(opts.tmpDir, `blob-${randomBytes(8).toString('hex')}.tmp`);
  const out = await open(path, 'w', 0o644);
  const hash = new Bun.CryptoHasher('sha256');
  try {
    const r = await buildEstargz(spooled ? { path: spooled } : (tar as { path: string }), {
      format,
      level: opts.level,
      chunkSize: opts.chunkSize,
      prioritizedFiles: opts.prioritizedFiles,
      // Recorded lists name files that a later layer added or an earlier one deleted: skip them.
      allowMissingPrioritized: true,
      workers: opts.workers,
      sink: async (bytes) => {
        hash.update(bytes);
        for (let off = 0; off < bytes.length; ) off += (await out.write(bytes, off, bytes.length - off)).bytesWritten;
      },
    });
    await out.close();
    return {
      path,
      digest: `sha256:${hash.digest('hex')}`,
      size: r.compressedSize,
      mediaType: r.mediaType,
      diffID: r.diffID,
      annotations: r.annotations,
      tocDigest: r.tocDigest,
      uncompressedSize: r.uncompressedSize,
      missedPrioritizedFiles: r.missedPrioritizedFiles,
    };
  } catch (e) {
    await out.close().catch(() => {});
    await rm(path, { force: true });
    throw new Error(`compressor ${idOf(format)}: ${(e as Error).message}`);
  } finally {
    if (spooled) await rm(spooled, { force: true });
  }
}

export function estargzCompressor(format: EstargzFormat, defaults: EstargzDefaults): Compressor {
  const id = idOf(format);
  const [lo, hi] = LEVEL_RANGE[format];
  const types = format === 'gzip' ? GZIP_TYPES : ZSTD_TYPES;
  return {
    // Docker schema2 has no zstd layer type: zstd:chunked uses the OCI one everywhere (as BuildKit).
    mediaType: (oci) => (format === 'zstd-chunked' || oci ? (format === 'gzip' ? MediaType.ociLayerGzip : MediaType.ociLayerZstd) : MediaType.dockerLayerGzip),
    // Only a layer carrying a TOC digest is already this format; plain gzip/zstd gets converted.
    matches: (desc: Descriptor) => types.has(desc.mediaType) && isEstargz(desc),
    async compress(tar, opts: CompressOptions) {
      const level = opts.level ?? defaults.level;
      if (!Number.isInteger(level) || level < lo || level > hi) throw new Error(`compressor ${id}: compression-level ${level} is out of range ${lo}–${hi}`);
      const extra = extrasOf(id, opts.extra);
      const blob = await convertTarToFile(tar, format, {
        level,
        chunkSize: extra.chunkSize ?? defaults.chunkSize,
        workers: defaults.workers,
        prioritizedFiles: extra.prioritizedFiles,
        tmpDir: opts.tmpDir,
      });
      const mediaType = format === 'gzip' && !opts.oci ? MediaType.dockerLayerGzip : blob.mediaType;
      const missed = new Set(blob.missedPrioritizedFiles);
      const prioritizedFiles = extra.prioritizedFiles ? [...new Set(extra.prioritizedFiles)].filter((p) => !missed.has(p)) : undefined;
      return { path: blob.path, digest: blob.digest, size: blob.size, mediaType, diffID: blob.diffID, annotations: blob.annotations, prioritizedFiles };
    },
  };
}
