// The two member codecs. Each gzip member / zstd frame is compressed on its own, so any file or
// chunk can later be decompressed from its own offset.
import * as zlib from "node:zlib";

export type CompressionKind = "gzip" | "zstd";

export function compressMember(kind: CompressionKind, data: Uint8Array, level: number): Uint8Array {
  if (kind === "gzip") return new Uint8Array(zlib.gzipSync(data, { level }));
  return Bun.zstdCompressSync(data, { level });
}

/**
 * The gzip member holding the TOC tar entry. The TOC is JSON, and on JSON Bun's zlib (Cloudflare's
 * fork) compresses worse at level 9 than at level 8 with the default strategy; Z_FILTERED avoids
 * that (golang image at -9: 4.7 MB TOC → 784 KB default, 674 KB filtered; the reference's Go
 * compress/gzip writes 680 KB). Both are tried and the smaller kept, so the result is deterministic.
 */
export function compressTocMember(data: Uint8Array, level: number): Uint8Array {
  const plain = zlib.gzipSync(data, { level });
  const filtered = zlib.gzipSync(data, { level, strategy: zlib.constants.Z_FILTERED });
  return new Uint8Array(filtered.length < plain.length ? filtered : plain);
}

/**
 * Decompress a span holding one or more whole gzip members / zstd frames (skippable frames are
 * skipped). Output beyond `maxOutputLength` throws a RangeError (code ERR_BUFFER_TOO_LARGE).
 */
export function decompressSpan(kind: CompressionKind, data: Uint8Array, maxOutputLength?: number): Uint8Array {
  const opts: { maxOutputLength?: number; chunkSize?: number } = maxOutputLength === undefined ? {} : { maxOutputLength };
  const expected = kind === "gzip" ? gzipTrailerSize(data) : maxOutputLength;
  // Output in one buffer of the size expected, not in 16 KiB pieces joined at the end: a 1.26 MB
  // TOC inflates in 6.5-9 ms instead of 12-22 (4.7 MB: 25 ms instead of 32-55; zstd 1-2 ms
  // instead of 10-19). The size is a hint only (a multi-member span's last member, a lying
  // trailer): the output grows or stops at maxOutputLength as before.
  // Deflate inflates 1032:1 at most: a trailer promising more is not believed.
  if (expected !== undefined && expected > 0) opts.chunkSize = Math.max(zlib.constants.Z_MIN_CHUNK, Math.min(expected + 1024, data.length * 1032 + 1024, maxOutputLength ?? MAX_CHUNK_HINT, MAX_CHUNK_HINT));
  return plainArray(kind === "gzip" ? zlib.gunzipSync(data, opts) : zlib.zstdDecompressSync(data, opts));
}

/** Never more than this allocated up front on a size hint. */
const MAX_CHUNK_HINT = 64 << 20;

/** ISIZE of the span's last gzip member (uncompressed size mod 2^32), if it has a trailer. */
function gzipTrailerSize(data: Uint8Array): number | undefined {
  if (data.length < 18) return undefined;
  return new DataView(data.buffer, data.byteOffset + data.length - 4, 4).getUint32(0, true);
}

/** A Uint8Array (not a Buffer) of `b`'s bytes: its own memory when it has it alone (a TOC is
 *  megabytes), a copy when it is a slice of something bigger (a pooled Buffer). */
function plainArray(b: Buffer): Uint8Array {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && b.buffer instanceof ArrayBuffer ? new Uint8Array(b.buffer) : new Uint8Array(b);
}

export function sniffCompression(data: Uint8Array): CompressionKind | undefined {
  if (data[0] === 0x1f && data[1] === 0x8b && data[2] === 0x08) return "gzip";
  if (data[0] === 0x28 && data[1] === 0xb5 && data[2] === 0x2f && data[3] === 0xfd) return "zstd";
  return undefined;
}
