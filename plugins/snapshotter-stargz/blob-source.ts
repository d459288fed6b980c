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
  /** Head streams (head-stream.ts): at most a speculative one and its continuation, in blob order. */
  private heads: { head: HeadStream; stop: AbortController }[] = [];
  private readonly closing = new AbortController();
  constructor(readonly opts: BlobSourceOptions) {}

  /**
   * Starts streaming `range` now, before anyone asks for it (head-stream.ts): stream() calls for
   * ranges starting inside it are served from those bytes, without a request of their own.
   * Ranges must not overlap a head already asked for; releaseHead() drops what nobody took.
   */
  streamHead(range: ByteRange): void {
    const end = range.offset + range.length;
    if (range.length <= 0 || this.heads.some((h) => range.offset < h.head.end && h.head.start < end)) return;
    const head = new HeadStream(range.offset, range.length);
    const stop = new AbortController();
    const entry = { head, stop };
    this.heads.push(entry);
    this.heads.sort((a, b) => a.head.start - b.head.start);
    this.opts.trace?.(`head stream of ${this.opts.digest} [${range.offset}, +${range.length}) asked`);
    let first = true;
    this.stream(range, (piece) => {
      if (first) this.opts.trace?.(`head stream of ${this.opts.digest}: first bytes`);
      first = false;
      head.push(piece);
      // Cut short (cut()): the rest is not wanted, and the request stops taking the link.
      if (head.reached >= head.end && head.end < end) stop.abort();
    }, false, stop.signal).then(
      () => head.finish(),
      (e: Error) => {
        head.finish();
        if (!stop.signal.aborted) this.opts.trace?.(`head stream of ${this.opts.digest} failed: ${e.message}`);
      },
    );
  }

  /** Where the head streams asked for so far end (0: none). */
  get headEnd(): number {
    return this.heads.at(-1)?.head.end ?? 0;
  }

  /** The first `n` bytes of the blob from its head stream, once in (undefined: none, or taken). */
  headBytes(n: number): Promise<Uint8Array | undefined> {
    const h = this.heads[0];
    return h && h.head.start === 0 ? h.head.first(n) : Promise.resolve(undefined);
  }

  /**
   * Only [0, end) of the heads is wanted: bytes past it are dropped, and a head's request stops
   * as soon as its wanted bytes are in (at once when they are).
   */
  cutHeads(end: number): void {
    if (this.heads.length === 0) return;
    for (const h of this.heads) {
      h.head.cut(end);
      if (h.head.reached >= h.head.end) h.stop.abort();
    }
    this.heads = this.heads.filter((h) => h.head.end > h.head.start);
    if (this.heads.length === 0) this.opts.trace?.(`head streams of ${this.opts.digest} dropped`);
  }

  /**
   * The layer is gone: the head is dropped, requests on the wire are stopped and none is retried
   * or made any more (each fails at once, naming the blob).
   */
  close(): void {
    this.releaseHead();
    this.closing.abort();
  }

  /** Drops the head streams' bytes nobody took (after prefetch, or when the layer goes). */
  releaseHead(): void {
    for (const h of this.heads) {
      h.head.release();
      // Still on the wire (the layer closed or failed mid-prefetch): not wanted any more.
      h.stop.abort();
    }
    this.heads = [];
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
    // Bytes that came with a head stream were counted (onBytes) when they arrived.
    for (let at = range.offset; fromHead; ) {
      const head = this.heads.find((h) => at >= h.head.start && at < h.head.end)?.head;
      if (!head) break;
      const to = Math.min(range.offset + range.length, head.end);
      at = await head.take(at, to, onData);
      done = at - range.offset;
      if (done >= range.length) return;
      if (at < to) break; // that head ended early: the rest from the network
    }
    let live = 0; // the attempt whose pieces count: one given up on (deadline) may still deliver
    signal = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
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
  private async retrying<T>(bytes: () => string, once: (attempt: number) => Promise<T>, abandon: () => void = () => {}, signal: AbortSignal = this.closing.signal): Promise<T> {
    const { repo, digest, deadlineMs } = this.opts;
    const started = Date.now();
    let wait = this.opts.minWaitMs;
    let cause: string | undefined; // the first real failure says more than the deadline that ends it
    const notWanted = () => new Error(`blob ${digest} in ${repo.registry}/${repo.repository}: bytes ${bytes()} no longer wanted`);
    for (let attempt = 1; ; attempt++) {
      if (signal.aborted) throw notWanted();
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
        if (signal.aborted) throw notWanted();
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
