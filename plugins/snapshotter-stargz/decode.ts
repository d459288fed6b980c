// Decompress and verify one chunk off the fetch thread's event loop: zlib's async calls run on the
// thread pool, so several chunks inflate on all cores while the next range downloads. Same checks
// as EstargzReader.decodeChunk (whose synchronous inflate would serialise everything on one thread).
import * as zlib from "node:zlib";
import { EstargzError, type EstargzReader } from "./estargz/index.ts";
import type { ChunkRef } from "./lazyfs/chunks.ts";

/** Room above the bytes we need, so a member holding a few trailing tar headers still inflates whole. */
const SLACK = 16 << 20;

function inflate(kind: "gzip" | "zstd", data: Uint8Array, maxOutputLength: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(out));
    if (kind === "gzip") zlib.gunzip(data, { maxOutputLength }, done);
    else (zlib as unknown as { zstdDecompress(d: Uint8Array, o: object, cb: typeof done): void }).zstdDecompress(data, { maxOutputLength }, done);
  });
}

export async function decodeChunk(reader: EstargzReader, c: ChunkRef, compressed: Uint8Array): Promise<Uint8Array> {
  const owner = c.file;
  const fail = (detail: string): never => {
    throw new EstargzError(reader.layerDigest, owner.name, `chunk ${c.index} (file offset ${c.chunkOffset}, blob offset ${c.offset}): ${detail}`);
  };
  const need = c.innerOffset + c.chunkSize;
  let plain: Buffer;
  try {
    plain = await inflate(reader.compression, compressed, need + SLACK);
  } catch (e) {
    const code = (e as { code?: string }).code;
    // Past the cap (a bomb, or a member carrying many following headers): the reader streams it.
    if (e instanceof RangeError || code === "ERR_BUFFER_TOO_LARGE") return reader.decodeChunk(owner, c.index, compressed);
    return fail(`cannot decompress: ${(e as Error).message}`);
  }
  if (plain.length < need) fail(`decompressed to ${plain.length} bytes, need ${need}`);
  const data = new Uint8Array(plain.buffer, plain.byteOffset + c.innerOffset, c.chunkSize);
  const want = owner.chunks[c.index].chunkDigest ?? (owner.chunks.length === 1 ? owner.digest : undefined);
  if (want === undefined) return fail("TOC has no digest for this chunk; refusing unverified data");
  const got = `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
  if (got !== want) fail(`digest mismatch: TOC says ${want}, data is ${got}`);
  return data;
}
