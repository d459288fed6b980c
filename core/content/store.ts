// Content-addressed blob store: <root>/content/blobs/sha256/<hex>. A blob becomes visible only after
// its size and digest were verified: it is streamed into content/ingest/, fsynced, then renamed.
import { closeSync, fsyncSync, openSync, writeSync, mkdirSync, renameSync, rmSync, readdirSync, statSync, existsSync } from 'node:fs';
import { stat, readdir, rm, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DigestError, digestOf, sha256Hex, shortDigest } from './digest.ts';

export interface BlobInfo {
  digest: string;
  size: number;
  modified: Date;
}

/** Opens the blob's bytes starting at `offset` (for resuming after a broken connection). */
export type BlobOpener = (offset: number) => Promise<ReadableStream<Uint8Array> | AsyncIterable<Uint8Array> | Iterable<Uint8Array>>;

export interface IngestOptions {
  /** Called with the bytes received so far (for progress bars). */
  onProgress?: (done: number, total: number | undefined) => void;
  signal?: AbortSignal;
  /** Reopen attempts after a stream fails mid-way (not after a verification failure). */
  resumeAttempts?: number;
}

export class ContentError extends Error {
  constructor(message: string, readonly retryable = false) {
    super(message);
    this.name = 'ContentError';
  }
}

const STALE_MS = 24 * 3600 * 1000;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class ContentStore {
  readonly blobDir: string;
  readonly ingestDir: string;
  private readonly inflight = new Map<string, Promise<boolean>>();

  /** Creates the directories and removes ingest files left by dead processes. */
  constructor(readonly root: string) {
    this.blobDir = join(root, 'content', 'blobs', 'sha256');
    this.ingestDir = join(root, 'content', 'ingest');
    mkdirSync(this.blobDir, { recursive: true });
    mkdirSync(this.ingestDir, { recursive: true });
    this.cleanStaleIngests();
  }

  private cleanStaleIngests(): void {
    const now = Date.now();
    for (const name of readdirSync(this.ingestDir)) {
      const pid = Number(name.split('.')[1]);
      const path = join(this.ingestDir, name);
      let old = false;
      try {
        old = now - statSync(path).mtimeMs > STALE_MS;
      } catch {
        continue;
      }
      if (!Number.isInteger(pid) || old || (pid !== process.pid && !pidAlive(pid))) rmSync(path, { force: true });
    }
  }

  path(digest: string): string {
    return join(this.blobDir, sha256Hex(digest));
  }

  async has(digest: string): Promise<boolean> {
    return (await this.info(digest)) !== undefined;
  }

  async info(digest: string): Promise<BlobInfo | undefined> {
    try {
      const s = await stat(this.path(digest));
      return { digest, size: s.size, modified: s.mtime };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async read(digest: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.path(digest)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ContentError(`blob ${digest} is not in the content store`);
      throw e;
    }
  }

  /** Bun file handle (for streaming or as an HTTP request body). */
  file(digest: string): ReturnType<typeof Bun.file> {
    return Bun.file(this.path(digest));
  }

  /** Stores bytes already in memory; verifies them against `expected` when given. */
  async put(bytes: Uint8Array, expected?: string): Promise<string> {
    const digest = expected ?? digestOf(bytes);
    await this.ingest({ digest, size: bytes.length }, async () => [bytes]);
    return digest;
  }

  /**
   * Streams a blob in unless it is present. Concurrent calls for one digest share one download.
   * Returns true when this call (or the download it joined) created the blob.
   */
  async ingest(expected: { digest: string; size?: number }, open: BlobOpener, opts: IngestOptions = {}): Promise<boolean> {
    // (async: a bad digest rejects rather than throwing synchronously; the map is set before any await)
    sha256Hex(expected.digest);
    const running = this.inflight.get(expected.digest);
    if (running) return running;
    const p = (async () => {
      if (await this.has(expected.digest)) return false;
      await this.download(expected, open, opts);
      return true;
    })().finally(() => this.inflight.delete(expected.digest));
    this.inflight.set(expected.digest, p);
    return p;
  }

  private async download(expected: { digest: string; size?: number }, open: BlobOpener, opts: IngestOptions): Promise<void> {
    const hex = sha256Hex(expected.digest);
    const tmp = join(this.ingestDir, `${hex}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o644);
    let closed = false;
    try {
      const hasher = new Bun.CryptoHasher('sha256');
      let done = 0;
      let attemptsLeft = opts.resumeAttempts ?? 3;
      for (;;) {
        // Opening is not retried here: the registry client already retried it within its deadline
        // (and honoured Retry-After); only a stream broken mid-way is resumed from what we have.
        const source = await open(done);
        try {
          for await (const chunk of source as AsyncIterable<Uint8Array>) {
            if (opts.signal?.aborted) throw opts.signal.reason ?? new Error('aborted');
            if (expected.size !== undefined && done + chunk.length > expected.size) {
              throw new ContentError(`blob ${expected.digest}: more data than its size ${expected.size}`);
            }
            hasher.update(chunk);
            for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
            done += chunk.length;
            opts.onProgress?.(done, expected.size);
          }
          break;
        } catch (e) {
          // A broken connection is resumed from the bytes we have; anything else is final.
          const resumable = !(e instanceof ContentError) && !(e instanceof DigestError) && !opts.signal?.aborted && isNetworkError(e);
          if (!resumable || attemptsLeft-- <= 0) throw e;
        }
      }
      if (expected.size !== undefined && done !== expected.size) {
        throw new ContentError(`blob ${expected.digest}: got ${done} bytes, expected ${expected.size} (truncated)`);
      }
      const actual = `sha256:${hasher.digest('hex')}`;
      if (actual !== expected.digest) throw new ContentError(`blob ${expected.digest}: content has digest ${actual} (corrupt or altered)`);
      fsyncSync(fd);
      closeSync(fd);
      closed = true;
      renameSync(tmp, this.path(expected.digest));
    } catch (e) {
      if (!closed) closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  async delete(digest: string): Promise<boolean> {
    const p = this.path(digest);
    if (!existsSync(p)) return false;
    await rm(p, { force: true });
    return true;
  }

  async *walk(): AsyncIterable<BlobInfo> {
    for (const name of await readdir(this.blobDir)) {
      if (!/^[a-f0-9]{64}$/.test(name)) continue;
      const info = await this.info(`sha256:${name}`);
      if (info) yield info;
    }
  }

  /** Blob count and bytes, for `du`. */
  async usage(): Promise<{ blobs: number; bytes: number }> {
    let blobs = 0;
    let bytes = 0;
    for await (const b of this.walk()) {
      blobs++;
      bytes += b.size;
    }
    return { blobs, bytes };
  }
}

/** Errors worth resuming a download for: resets, timeouts, sockets closed mid-body. */
export function isNetworkError(e: unknown): boolean {
  const err = e as { code?: string; name?: string; message?: string; retryable?: boolean };
  if (err?.retryable === true) return true;
  const code = err?.code ?? '';
  if (['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNABORTED', 'UND_ERR_SOCKET', 'ConnectionClosed', 'ConnectionRefused', 'ECONNREFUSED'].includes(code)) return true;
  const msg = String(err?.message ?? '');
  return /socket|connection|reset|closed unexpectedly|network|timed? ?out/i.test(msg) && err?.name !== 'ContentError';
}

export { shortDigest };
