// Worker body for compress-pool.ts, kept as source text so the pool can start it from a Blob URL:
// that works the same under `bun test` and inside a `bun build --compile` binary (a separate
// worker file would have to be added to the compile command as an extra entrypoint).
// It must compress exactly like compress.ts's compressMember.
import type { CompressionKind } from "./compress.ts";

export interface CompressRequest {
  id: number;
  kind: CompressionKind;
  level: number;
  data: Uint8Array;
}

export type CompressResponse = { id: number; out: Uint8Array } | { id: number; error: string };

export const COMPRESS_WORKER_SOURCE = `
const zlib = require("node:zlib");
self.onmessage = (ev) => {
  const { id, kind, level, data } = ev.data;
  try {
    let out = kind === "gzip" ? new Uint8Array(zlib.gzipSync(data, { level })) : Bun.zstdCompressSync(data, { level });
    // Transfer needs a buffer this member owns entirely.
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
    self.postMessage({ id, out }, [out.buffer]);
  } catch (e) {
    self.postMessage({ id, error: String(e && e.message || e) });
  }
};
`;
