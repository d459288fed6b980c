// Content-addressed blob store: <root>/content/blobs/sha256/<hex>. A blob becomes visible only after
// its size and digest were verified: it is streamed into content/ingest/, fsynced, then renamed.
// A caller may read a blob while it is still coming in (follow): it gets the bytes as they are
// written, and the end of its stream only once they were verified.
import { closeSync, fdatasync, fsync, openSync, readSync, writeSync, mkdirSync, renameSync, rmSync, readdirSync, statSync, existsSync } from 'node:fs';
import { stat, readdir, rm, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
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
/** Writeback of a blob being ingested is started (asynchronously) every this many bytes, so the
 *  fsync that ends the ingest finds little left to write. */
const FLUSH_EVERY = 16 * 1024 * 1024;
/** Read size when following an ingest. */
const FOLLOW_CHUNK = 256 * 1024;
const fsyncAsync = promisify(fsync);
const fdatasyncAsync = promisify(fdatasync);

/** A download in progress: how much of it is in its temp file, and whether it ended. */
interface Ingest {
  result: Promise<boolean>;
  tmp: string;
  written: number;
  /** Set (with the blob renamed into place or the temp file removed) when the download ends. */
  outcome?: { ok: true } | { ok: false; error: unknown };
  wake: (() => void)[];
}

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
  private readonly inflight = new Map<string, Ingest>();

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
    if (running) return running.result;
    if (await this.has(expected.digest)) return false;
    // has() awaited: another caller may have started it meanwhile.
    return (this.inflight.get(expected.digest) ?? this.start(expected, open, opts)).result;
  }

  /**
   * The blob's bytes while they come in: starts its download (or joins the one running, or reads
   * the stored blob). The bytes are NOT verified when handed out: the stream throws at its end
   * when size or digest are wrong, and ends normally only after the blob is verified and stored.
   * So whatever a consumer makes of the bytes must stay invisible until the stream has ended.
   */
  async *follow(expected: { digest: string; size?: number }, open: BlobOpener, opts: IngestOptions = {}): AsyncGenerator<Uint8Array> {
    sha256Hex(expected.digest);
    let ing = this.inflight.get(expected.digest);
    if (!ing) {
      if (await this.has(expected.digest)) {
        yield* this.file(expected.digest).stream() as unknown as AsyncIterable<Uint8Array>;
        return;
      }
      // has() awaited: another caller may have started it meanwhile.
      ing = this.inflight.get(expected.digest) ?? this.start(expected, open, opts);
    }
    // Synchronous with the check: the temp file exists unless the ingest ended (renamed or removed).
    if (ing.outcome) {
      await ing.result;
      yield* this.file(expected.digest).stream() as unknown as AsyncIterable<Uint8Array>;
      return;
    }
    const fd = openSync(ing.tmp, 'r');
    try {
      let offset = 0;
      for (;;) {
        if (offset < ing.written) {
          const buf = Buffer.allocUnsafe(Math.min(FOLLOW_CHUNK, ing.written - offset));
          const n = readSync(fd, buf, 0, buf.length, offset);
          if (n <= 0) throw new ContentError(`blob ${expected.digest}: ingest file shorter than the bytes written to it`);
          offset += n;
          yield n === buf.length ? buf : buf.subarray(0, n);
          continue;
        }
        const outcome = ing.outcome as Ingest['outcome'];
        if (outcome) {
          if (!outcome.ok) throw outcome.error;
          return;
        }
        await new Promise<void>((r) => ing.wake.push(r));
      }
    } finally {
      closeSync(fd);
    }
  }

  private start(expected: { digest: string; size?: number }, open: BlobOpener, opts: IngestOptions): Ingest {
    const hex = sha256Hex(expected.digest);
    const ing: Ingest = { result: undefined as unknown as Promise<boolean>, tmp: join(this.ingestDir, `${hex}.${process.pid}.${randomBytes(4).toString('hex')}`), written: 0, wake: [] };
    const wakeAll = () => {
      for (const w of ing.wake.splice(0)) w();
    };
    ing.result = this.download(expected, open, opts, ing, wakeAll).then(() => true);
    ing.result
      .catch(() => {}) // followers and ingest() callers see the error; nobody else has to
      .finally(() => {
        this.inflight.delete(expected.digest);
        wakeAll();
      });
    this.inflight.set(expected.digest, ing);
    return ing;
  }

  private async download(expected: { digest: string; size?: number }, open: BlobOpener, opts: IngestOptions, ing: Ingest, wake: () => void): Promise<void> {
    const tmp = ing.tmp;
    const fd = openSync(tmp, 'w', 0o644);
    let closed = false;
    // An asynchronous writeback of what is written so far (at most one at a time).
    let flushing: Promise<void> | undefined;
    let flushedAt = 0;
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
            ing.written = done;
            wake();
            if (!flushing && done - flushedAt >= FLUSH_EVERY) {
              flushedAt = done;
              flushing = fdatasyncAsync(fd).finally(() => (flushing = undefined));
            }
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
      await flushing?.catch(() => {});
      await fsyncAsync(fd);
      closeSync(fd);
      closed = true;
      renameSync(tmp, this.path(expected.digest));
      // In the same synchronous step as the rename: a follower that still sees no outcome can
      // open the temp file.
      ing.outcome = { ok: true };
    } catch (e) {
      // The fd may not be closed under a running writeback.
      await flushing?.catch(() => {});
      if (!closed) closeSync(fd);
      rmSync(tmp, { force: true });
      ing.outcome = { ok: false, error: e };
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
