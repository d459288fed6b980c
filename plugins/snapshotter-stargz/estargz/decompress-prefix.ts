// Decompress just enough of a compressed span to get `needed` bytes. The fast path is one
// synchronous native call with an output cap; a span that inflates past the cap (a decompression
// bomb, or a member carrying thousands of following headers) is streamed and cut off early.
import * as zlib from "node:zlib";
import type { CompressionKind } from "./compress.ts";
import { inflateInto } from "./native-inflate.ts";

const SLACK = 16 << 20;
/** Room the native path leaves after the bytes needed (the member's tar padding and trailer). */
export const NATIVE_ROOM = 64 << 10;

export async function decompressPrefix(kind: CompressionKind, data: Uint8Array, needed: number): Promise<Uint8Array> {
  const out = new Uint8Array(needed + NATIVE_ROOM);
  const n = inflateInto(kind, data, out);
  if (n !== undefined && n >= needed) return out.subarray(0, n);
  const maxOutputLength = needed + SLACK;
  try {
    return kind === "gzip"
      ? new Uint8Array(zlib.gunzipSync(data, { maxOutputLength }))
      : new Uint8Array(zlib.zstdDecompressSync(data, { maxOutputLength }));
  } catch (e) {
    if (!(e instanceof RangeError) && (e as { code?: string }).code !== "ERR_BUFFER_TOO_LARGE") throw e;
  }
  return streamPrefix(kind, data, needed);
}

function streamPrefix(kind: CompressionKind, data: Uint8Array, needed: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const z = kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
    const parts: Buffer[] = [];
    let have = 0;
    let settled = false;
    const finish = () => {
      if (settled) return;
      settled = true;
      z.destroy();
      resolve(new Uint8Array(Buffer.concat(parts)).subarray(0, needed));
    };
    z.on("data", (b: Buffer) => {
      parts.push(b);
      have += b.length;
      if (have >= needed) finish();
    });
    z.on("end", finish);
    z.on("error", (err) => {
      if (settled) return;
      settled = true;
      reject(err);
    });
    z.end(data);
  });
}
