// Chunk decompression straight into a caller's buffer through libdeflate (gzip) and libzstd, via
// bun:ffi. This is the lazy-read hot path: about 4x less CPU than node:zlib / Bun.gunzipSync for a
// 4 MiB chunk here, mostly because the output lands in a reused buffer (no fresh pages to fault in)
// and libdeflate inflates in one pass. The output buffer bounds the work: a span that would inflate
// past it (a decompression bomb, or a member carrying many following headers) stops there and the
// caller falls back to the capped node:zlib path. Without the libraries, `undefined` sends every
// caller to that path too.
import { dlopen, FFIType } from "bun:ffi";
import type { CompressionKind } from "./compress.ts";

const LIBDEFLATE_SUCCESS = 0;
const LIBDEFLATE_INSUFFICIENT_SPACE = 3;

function open<T extends Record<string, { args: FFIType[]; returns: FFIType }>>(names: string[], symbols: T) {
  for (const name of names) {
    try {
      return dlopen(name, symbols).symbols;
    } catch {
      // try the next name
    }
  }
  return undefined;
}

type Deflate = NonNullable<ReturnType<typeof openDeflate>>;
type Zstd = NonNullable<ReturnType<typeof openZstd>>;

function openDeflate() {
  return open(["libdeflate.so.0", "libdeflate.so"], {
    libdeflate_alloc_decompressor: { args: [], returns: FFIType.ptr },
    // (decompressor, in, in_nbytes, out, out_nbytes_avail, *actual_in_nbytes, *actual_out_nbytes)
    libdeflate_gzip_decompress_ex: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
  });
}

function openZstd() {
  return open(["libzstd.so.1", "libzstd.so"], {
    ZSTD_createDCtx: { args: [], returns: FFIType.ptr },
    ZSTD_decompressDCtx: { args: [FFIType.ptr, FFIType.ptr, FFIType.u64, FFIType.ptr, FFIType.u64], returns: FFIType.u64 },
    ZSTD_isError: { args: [FFIType.u64], returns: FFIType.u32 },
    ZSTD_getErrorName: { args: [FFIType.u64], returns: FFIType.cstring },
    ZSTD_getErrorCode: { args: [FFIType.u64], returns: FFIType.i32 },
  });
}

// One decompressor per thread (module state is per Worker), created on first use.
let deflate: { lib: Deflate; d: NonNullable<ReturnType<Deflate["libdeflate_alloc_decompressor"]>> } | null | undefined;
let zstd: { lib: Zstd; d: NonNullable<ReturnType<Zstd["ZSTD_createDCtx"]>> } | null | undefined;
const sizes = new BigUint64Array(2);
/** ZSTD_error_dstSize_tooSmall in zstd_errors.h. */
const ZSTD_DST_TOO_SMALL = 70;

function gzipLib() {
  if (deflate === undefined) {
    const lib = openDeflate();
    const d = lib?.libdeflate_alloc_decompressor();
    deflate = lib && d ? { lib, d } : null;
  }
  return deflate;
}

function zstdLib() {
  if (zstd === undefined) {
    const lib = openZstd();
    const d = lib?.ZSTD_createDCtx();
    zstd = lib && d ? { lib, d } : null;
  }
  return zstd;
}

/** True when the native path exists for `kind` on this machine. */
export function nativeInflateAvailable(kind: CompressionKind): boolean {
  return kind === "gzip" ? gzipLib() !== null : zstdLib() !== null;
}

/**
 * Inflates the first gzip member (gzip) or all frames (zstd) of `data` into `out`. Returns the
 * bytes written, or undefined when the library is missing or the output does not fit in `out`.
 * Corrupt data (bad deflate stream, CRC or size mismatch) throws.
 */
export function inflateInto(kind: CompressionKind, data: Uint8Array, out: Uint8Array): number | undefined {
  if (data.byteLength === 0 || out.byteLength === 0) return undefined;
  if (kind === "gzip") {
    const z = gzipLib();
    if (!z) return undefined;
    const rc = z.lib.libdeflate_gzip_decompress_ex(z.d, data, data.byteLength, out, out.byteLength, sizes.subarray(0, 1), sizes.subarray(1, 2));
    if (rc === LIBDEFLATE_SUCCESS) return Number(sizes[1]);
    if (rc === LIBDEFLATE_INSUFFICIENT_SPACE) return undefined;
    throw new Error("invalid gzip data (libdeflate: bad deflate stream, CRC or length)");
  }
  const z = zstdLib();
  if (!z) return undefined;
  const n = z.lib.ZSTD_decompressDCtx(z.d, out, out.byteLength, data, data.byteLength);
  if (z.lib.ZSTD_isError(n)) {
    if (z.lib.ZSTD_getErrorCode(n) === ZSTD_DST_TOO_SMALL) return undefined;
    throw new Error(`invalid zstd data (${z.lib.ZSTD_getErrorName(n)})`);
  }
  return Number(n);
}
