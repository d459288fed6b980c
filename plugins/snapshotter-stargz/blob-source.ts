// Byte ranges of one registry blob with retries until a deadline: the only place the lazy layer
// talks to the network. A registry that stops answering costs at most `deadlineMs`, then the
// caller gets an error (a read gets EIO), and the next call tries afresh. A registry that answers
// no (401 after the client's challenge round, 403, 404, …) is not asked again: the caller gets
// the answer at once.
import type { ByteRange, RegistryClient, RepoRef } from "../../core/registry/client.ts";
import { RegistryError, transientStatus } from "../../core/registry/errors.ts";
import { HeadStream } from "./head-stream.ts";

export interface BlobSourceOptions {
  client: RegistryClient;
  repo: RepoRef;
  digest: string;
  size: number;
  deadlineMs: number;
  minWaitMs: number;
  maxWaitMs: number;
  /** Counts bytes that came over the network. */
  onBytes?: (n: number) => void;
  /** Timestamped debug lines (EDGEBUILD_STARGZ_TRACE). */
  trace?: (line: string) => void;
}

class DeadlineError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class BlobSource {
  requests = 0;
  private head: HeadStream | undefined;
  private stopHead: AbortController | undefined;
  constructor(readonly opts: BlobSourceOptions) {}

  /**
   * Starts streaming `range` now, before anyone asks for it (head-stream.ts): stream() calls for
   * ranges starting inside it are served from those bytes, without a request of their own.
   * One at a time; releaseHead() drops what nobody took.
   */
  streamHead(range: ByteRange): void {
    if (this.head || range.length <= 0) return;
    const head = new HeadStream(range.offset, range.length);
    this.head = head;
    const stop = new AbortController();
    this.stopHead = stop;
    this.opts.trace?.(`head stream of ${this.opts.digest} [${range.offset}, +${range.length}) asked`);
    let first = true;
    this.stream(range, (piece) => {
      if (first) this.opts.trace?.(`head stream of ${this.opts.digest}: first bytes`);
      first = false;
      head.push(piece);
    }, false, stop.signal).then(
      () => head.finish(),
      (e: Error) => {
        head.finish();
        this.opts.trace?.(`head stream of ${this.opts.digest} failed: ${e.message}`);
      },
    );
  }

  /** Drops the head stream's bytes nobody took (after prefetch, or when the layer goes). */
  releaseHead(): void {
    this.head?.release();
    this.head = undefined;
    // Still on the wire (the layer closed or failed mid-prefetch): not wanted any more.
    this.stopHead?.abort();
    this.stopHead = undefined;
  }

  get size(): number {
    return this.opts.size;
  }

  async fetch(ranges: ByteRange[]): Promise<Uint8Array[]> {
    const { client, repo, digest } = this.opts;
    const got = await this.retrying(
      () => ranges.map((r) => `${r.offset}+${r.length}`).join(","),
      () => client.fetchBlobRange(repo, digest, ranges),
    );
    for (const b of got) this.opts.onBytes?.(b.length);
    return got;
  }

  /**
   * One range handed to `onData` as it arrives (contiguous pieces, in order), with the same
   * retries and deadline as fetch(): a broken body is asked for again from the first byte not yet
   * delivered, so nothing is delivered twice.
   */
  async stream(range: ByteRange, onData: (bytes: Uint8Array) => void, fromHead = true, signal?: AbortSignal): Promise<void> {
    const { client, repo, digest } = this.opts;
    let done = 0;
    const head = fromHead ? this.head : undefined;
    if (head && range.offset >= head.start && range.offset < head.end) {
      // Bytes that came with the head stream were counted (onBytes) when they arrived.
      done = (await head.take(range.offset, Math.min(range.offset + range.length, head.end), onData)) - range.offset;
      if (done >= range.length) return;
    }
    let live = 0; // the attempt whose pieces count: one given up on (deadline) may still deliver
    await this.retrying(
      () => `${range.offset + done}+${range.length - done}`,
      async (attempt) => {
        const before = done;
        live = attempt;
        await client.streamBlobRange(repo, digest, { offset: range.offset + done, length: range.length - done }, (piece) => {
          if (live !== attempt) return;
          done += piece.length;
          this.opts.onBytes?.(piece.length);
          onData(piece);
        }, signal);
        if (done < range.length) throw new Error(`${range.length - done} bytes missing`);
        if (attempt > 1 && before > 0) this.opts.trace?.(`resumed ${digest} at +${before} of [${range.offset}, +${range.length})`);
      },
      () => (live = 0),
      signal,
    );
  }

  /**
   * Runs `once` until it succeeds, with backoff, within the deadline (which also bounds a body
   * that stops mid-way: the client retries by itself only up to the response head). A registry
   * that answers no is not asked again. `abandon` runs after each failed or timed-out attempt.
   */
  private async retrying<T>(bytes: () => string, once: (attempt: number) => Promise<T>, abandon: () => void = () => {}, signal?: AbortSignal): Promise<T> {
    const { repo, digest, deadlineMs } = this.opts;
    const started = Date.now();
    let wait = this.opts.minWaitMs;
    let cause: string | undefined; // the first real failure says more than the deadline that ends it
    for (let attempt = 1; ; attempt++) {
      const left = deadlineMs - (Date.now() - started);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        this.requests++;
        return await Promise.race([
          once(attempt),
          new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new DeadlineError(`no answer within ${deadlineMs} ms`)), left))),
        ]);
      } catch (e) {
        abandon();
        if (signal?.aborted) throw new Error(`blob ${digest} in ${repo.registry}/${repo.repository}: bytes ${bytes()} no longer wanted`);
        const spent = Date.now() - started;
        if (e instanceof RegistryError && e.status !== undefined && !transientStatus(e.status)) throw this.refused(e);
        if (!(e instanceof DeadlineError)) cause ??= (e as Error).message;
        if (spent + wait >= deadlineMs) {
          throw new Error(`blob ${digest} in ${repo.registry}/${repo.repository}: bytes ${bytes()} not fetched after ${attempt} tries in ${spent} ms: ${cause ?? (e as Error).message}`);
        }
        await sleep(wait);
        wait = Math.min(this.opts.maxWaitMs, wait * 2);
      } finally {
        clearTimeout(timer);
      }
    }
  }

  /** One line naming the blob (the layer digest), host and repository, then the registry's answer. */
  private refused(e: RegistryError): Error {
    const { repo, digest } = this.opts;
    const what = `blob ${digest} in ${repo.registry}/${repo.repository}`;
    const why = e.message.startsWith(`${what}: `) ? e.message.slice(what.length + 2) : e.message;
    return new Error(`${what}: ${why.split("\n")[0]}`);
  }

  /** As an eStargz RandomAccessSource (footer and TOC reads). */
  readAt = async (offset: number, length: number): Promise<Uint8Array> => {
    const t0 = performance.now();
    const got = (await this.fetch([{ offset, length }]))[0];
    if (process.env.EDGEBUILD_STARGZ_TRACE) this.opts.trace?.(`read ${this.opts.digest} [${offset}, +${length}) in ${(performance.now() - t0).toFixed(0)} ms`);
    return got;
  };
}
