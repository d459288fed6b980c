// One pass over a layer tar: hash the input (diffID), push it through a compressor, hash and count
// the output (digest, size) and write it to a temp file. Shared by the compressor plugins.
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface CompressedFile {
  path: string;
  /** sha256 of the bytes written. */
  digest: string;
  size: number;
  /** sha256 of the bytes read. */
  diffID: string;
}

/** A pass-through stream that hashes and counts what flows through it. */
class Hasher extends Transform {
  private readonly hash = createHash('sha256');
  private result?: string;
  size = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    this.result ??= `sha256:${this.hash.digest('hex')}`;
    return this.result;
  }
}

/**
 * Streams `input` through `codec` (none: stored as is) into a new file under `tmpDir`. On any error
 * (including one thrown by the input stream) the file is removed and the error rethrown.
 */
export async function compressToFile(input: ReadableStream<Uint8Array>, codec: Transform | undefined, tmpDir: string): Promise<CompressedFile> {
  await mkdir(tmpDir, { recursive: true });
  const path = join(tmpDir, `blob-${randomBytes(8).toString('hex')}.tmp`);
  const inHash = new Hasher();
  const outHash = codec ? new Hasher() : inHash;
  const stages = codec ? [inHash, codec, outHash] : [inHash];
  try {
    await pipeline(Readable.fromWeb(input as import('node:stream/web').ReadableStream<Uint8Array>), ...stages, createWriteStream(path));
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
  return { path, digest: outHash.digest(), size: outHash.size, diffID: inHash.digest() };
}
