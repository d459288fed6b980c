// Main-thread chunk fetcher of one lazy layer: whatever asks (FUSE workers, prefetch, background
// fetch), each chunk is fetched once, adjacent chunks go out as one range request, at most
// `maxConcurrency` requests run at a time, and every chunk is checked against its chunkDigest
// before it reaches the cache. A bad chunk fails only the reads that need it, with a log line.
import type { CompressionKind } from "./estargz/compress.ts";
import type { BlobSource } from "./blob-source.ts";
import type { ChunkCache } from "./cache.ts";
import { EstargzError } from "./estargz/index.ts";
import { runDecode, type DecodePool } from "./decode-pool.ts";
import type { ChunkFile, ChunkRef, ChunkTable } from "./lazyfs/chunks.ts";

/** Decodes and verifies chunks on this thread: an EstargzReader, or toc-parse.ts's table reader. */
export interface ChunkReader {
  readonly layerDigest: string;
  readonly compression: CompressionKind;
  decodeChunk(file: ChunkFile, index: number, compressed: Uint8Array): Promise<Uint8Array>;
}

export interface FetcherOptions {
  layerDigest: string;
  reader: ChunkReader;
  table: ChunkTable;
  source: BlobSource;
  cache: ChunkCache;
  maxConcurrency: number;
  /** Grow short requests over following chunks up to this many compressed bytes (0: exact). */
  minRequestBytes: number;
  /** Largest single range request. */
  maxRequestBytes: number;
  log: (m: string) => void;
  /** Decoder threads; without them chunks are decoded on this thread. */
  decoders?: DecodePool;
  /** Called after a chunk was verified and cached. */
  onCached?: (c: ChunkRef) => void;
}

export interface EnsureOptions {
  /** Reads jump the queue ahead of background work (default true). */
  urgent?: boolean;
  /** Guesswork (neighbour fetch): after everything else, and never in the last free network slot. */
  speculative?: boolean;
  /** Wait at most this long for a fetch someone else started (the prefetch), then fetch anew. */
  waitCapMs?: number;
  /** Overrides the largest range per request (the prefetch asks for its range in one). */
  maxRequestBytes?: number;
  /** Fetch exactly these chunks, without growing short requests over their neighbours. */
  exact?: boolean;
}

/** Who waits: a read, background work (prefetch, background fetch), or nobody yet (speculation). */
type Priority = 0 | 1 | 2;
const READ: Priority = 0;
const SPECULATIVE: Priority = 2;

/** A request's place in line; a read coming to wait for its chunks moves it up. */
interface Ticket {
  prio: Priority;
  /** The priority it was asked with. */
  readonly origin: Priority;
}

/** Slots handed out by priority, first come first served within one; speculative work leaves one
 *  slot free for reads (when there are two or more), and a read may take one slot more than the
 *  limit, so a miss never waits behind a prefetch that holds every slot (a 2 MiB piece is ~0.2 s
 *  at 100 Mbit/s: a RUN's first miss, e.g. the executor's /etc/passwd, waited that long). */
class Semaphore {
  private active = 0;
  private readonly queues: { ticket: Ticket; go: () => void }[][] = [[], [], []];
  constructor(private readonly n: number) {}

  private room(p: Priority): boolean {
    return this.active < (p === SPECULATIVE && this.n > 1 ? this.n - 1 : p === READ ? this.n + 1 : this.n);
  }

  async run<T>(fn: () => Promise<T>, ticket: Ticket): Promise<T> {
    const p = ticket.prio;
    if (this.room(p) && this.queues.every((q, i) => i > p || q.length === 0)) this.active++;
    else await new Promise<void>((go) => this.queues[p].push({ ticket, go })); // the slot is counted by wake()
    try {
      return await fn();
    } finally {
      this.active--;
      this.wake();
    }
  }

  /** Moves a waiting ticket to the reads' line (after the reads already waiting). */
  promote(ticket: Ticket): void {
    for (const q of this.queues.slice(1)) {
      const i = q.findIndex((w) => w.ticket === ticket);
      if (i >= 0) {
        this.queues[READ].push(...q.splice(i, 1));
        this.wake();
        return;
      }
    }
  }

  private wake(): void {
    for (let p = 0 as Priority; p <= SPECULATIVE; p++) {
      if (this.queues[p].length === 0) continue;
      if (!this.room(p)) return;
      this.active++;
      this.queues[p].shift()!.go();
      p = -1 as Priority; // start over: the next waiter may fit too
    }
  }
}

export class LayerFetcher {
  private readonly inflight = new Map<number, Promise<void>>();
  /** In-flight chunks a read waits for (their decode jumps the queue). */
  private readonly awaited = new Set<number>();
  /** The request each in-flight chunk is part of. */
  private readonly tickets = new Map<number, Ticket>();
  private readonly limiter: Semaphore;
  /** Runs being fetched or decoded: twice the requests, so decoding overlaps the next requests. */
  private readonly pipeline: Semaphore;
  /** Chunks ordered by blob offset, for growing requests over neighbours. */
  private readonly byOffset: ChunkRef[];
  /** Place of each chunk id in byOffset. */
  private readonly position: Int32Array;
  lastError: string | undefined;
  cachedChunks = 0;
  /** Chunks counted in cachedChunks (each once, whoever cached it). */
  private readonly counted = new Set<number>();

  constructor(readonly opts: FetcherOptions) {
    this.limiter = new Semaphore(opts.maxConcurrency);
    this.pipeline = new Semaphore(opts.maxConcurrency * 2);
    this.byOffset = [...opts.table.chunks].sort((a, b) => a.offset - b.offset || a.innerOffset - b.innerOffset);
    this.position = new Int32Array(this.byOffset.length);
    this.byOffset.forEach((c, i) => (this.position[c.id] = i));
    for (const c of opts.cache.cachedAmong(opts.layerDigest, this.byOffset)) this.markCached(c, false);
  }

  get chunks(): ChunkRef[] {
    return this.opts.table.chunks;
  }

  isCached(id: number): boolean {
    // Chunks this fetcher saw cached stay on disk (entries are never removed while a layer is
    // open); memory-only entries can be evicted, so those are looked up each time.
    if (this.counted.has(id) && !this.opts.cache.memoryOnly) return true;
    return this.opts.cache.has(this.opts.layerDigest, this.chunks[id]);
  }

  isInflight(id: number): boolean {
    return this.inflight.has(id);
  }

  /**
   * Chunks nobody has cached or claimed among the `bytes` of compressed blob that follow chunk
   * `id`, in blob order, up to the first file bigger than `bigFileBytes` (a big file is read, if
   * at all, by readahead: its neighbours are not worth guessing at).
   */
  following(id: number, bytes: number, bigFileBytes: number): number[] {
    const from = this.chunks[id].compressedEnd;
    const out: number[] = [];
    for (let i = this.position[id] + 1; i < this.byOffset.length; i++) {
      const c = this.byOffset[i];
      if (c.compressedEnd - from > bytes || c.file.size > bigFileBytes) break;
      // What this fetcher knows (no stat per chunk): the request drops what turns out cached.
      if (!this.inflight.has(c.id) && !this.counted.has(c.id)) out.push(c.id);
    }
    return out;
  }

  get complete(): boolean {
    return this.cachedChunks >= this.byOffset.length;
  }

  /**
   * Makes sure every chunk in `ids` is verified and cached (disk, or memory when the disk is full).
   * `urgent` requests (reads) jump the queue ahead of background work. Resolves once the chunks
   * asked for are cached: neighbours a short request grew over are decoded after them and not
   * waited for.
   */
  async ensure(ids: number[], how: EnsureOptions = {}): Promise<void> {
    const urgent = how.urgent ?? true;
    const prio: Priority = how.speculative ? SPECULATIVE : urgent ? READ : 1;
    const waitCapMs = how.waitCapMs;
    const waits: Promise<void>[] = [];
    const missing: ChunkRef[] = [];
    const wanted = new Set(ids);
    for (const id of wanted) {
      const pending = this.inflight.get(id);
      if (pending) {
        // A read waiting on a chunk that background work fetches: its request and decode go first.
        if (prio === READ) this.promote(id);
        waits.push(waitCapMs === undefined ? pending : this.capped(id, pending, waitCapMs, prio));
      }
      else if (!this.isCached(id)) missing.push(this.chunks[id]);
    }
    for (const group of this.groups(missing, how.maxRequestBytes ?? this.opts.maxRequestBytes, !how.exact)) {
      const each = this.fetchGroup(group, prio, wanted);
      for (const c of group) if (wanted.has(c.id)) waits.push(each.get(c.id)!);
    }
    await Promise.all(waits);
  }

  private promote(id: number): void {
    this.awaited.add(id);
    const t = this.tickets.get(id);
    if (!t || t.prio === READ) return;
    this.pipeline.promote(t);
    this.limiter.promote(t);
    t.prio = READ;
  }

  /** Waits for another fetch of `id` up to `capMs` (the prefetch timeout), then fetches it itself. */
  private async capped(id: number, pending: Promise<void>, capMs: number, prio: Priority): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      pending.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), capMs))),
    ]).finally(() => clearTimeout(timer));
    if (timedOut && !this.isCached(id)) await this.fetchGroup([this.chunks[id]], prio, new Set([id])).get(id);
  }

  /** Splits chunks into runs that are adjacent in the blob, each run one range request. */
  private groups(chunks: ChunkRef[], maxRequestBytes: number, grow: boolean): ChunkRef[][] {
    if (chunks.length === 0) return [];
    const sorted = [...chunks].sort((a, b) => a.offset - b.offset || a.innerOffset - b.innerOffset);
    const out: ChunkRef[][] = [];
    let run: ChunkRef[] = [];
    for (const c of sorted) {
      const prev = run.at(-1);
      const start = run[0]?.offset ?? c.offset;
      const adjacent = prev && (c.offset === prev.compressedEnd || c.offset === prev.offset);
      if (prev && (!adjacent || c.compressedEnd - start > maxRequestBytes)) {
        out.push(run);
        run = [];
      }
      run.push(c);
    }
    out.push(run);
    return grow ? out.map((g) => this.grow(g)) : out;
  }

  /** Extends a short run over the following uncached, unclaimed chunks (stargz's block alignment). */
  private grow(run: ChunkRef[]): ChunkRef[] {
    const min = this.opts.minRequestBytes;
    const start = run[0].offset;
    let last = run.at(-1)!;
    for (let i = this.position[last.id] + 1; i < this.byOffset.length && last.compressedEnd - start < min; i++) {
      const c = this.byOffset[i];
      if (c.offset !== last.compressedEnd && c.offset !== last.offset) break;
      if (this.inflight.has(c.id) || this.isCached(c.id)) break;
      if (c.compressedEnd - start > min) break;
      run.push(c);
      last = c;
    }
    return run;
  }

  /**
   * Starts one range request for `group` and returns a promise per chunk, settled as soon as that
   * chunk is cached (or failed): a reader waits for its own chunk, not for the whole run.
   */
  private fetchGroup(group: ChunkRef[], prio: Priority, wanted: Set<number>): Map<number, Promise<void>> {
    const settle = new Map<number, Settle>();
    const each = new Map<number, Promise<void>>();
    const ticket: Ticket = { prio, origin: prio };
    for (const c of group) {
      const p = new Promise<void>((resolve, reject) => settle.set(c.id, { resolve, reject }));
      this.inflight.set(c.id, p);
      this.tickets.set(c.id, ticket);
      p.catch(() => {}).finally(() => {
        if (this.inflight.get(c.id) !== p) return;
        this.inflight.delete(c.id);
        this.tickets.delete(c.id);
        this.awaited.delete(c.id);
      });
      each.set(c.id, p);
    }
    void this.download(group, ticket, wanted, settle);
    return each;
  }

  /**
   * One range request for a run (at most `maxConcurrency` at a time), then each chunk decoded,
   * verified and cached, settling its promise. Only the request holds a network slot: decoding
   * overlaps the next requests.
   */
  private download(group: ChunkRef[], ticket: Ticket, wanted: Set<number>, settle: Map<number, Settle>): Promise<void> {
    // Fetched bodies wait for the decoders within this bound, so a burst (a big prefetch) cannot
    // pile up compressed bytes in memory faster than they are decoded.
    const queued = performance.now();
    return this.pipeline
      .run(() => this.fetchAndDecode(group, ticket, wanted, settle, queued), ticket)
      .catch((e: Error) => {
        for (const s of settle.values()) s.reject(e);
      })
      .finally(() => {
        // Whatever is left was cached by someone else meanwhile (settling twice is a no-op).
        for (const s of settle.values()) s.resolve();
      });
  }

  /**
   * The run's range is streamed: each chunk is decoded, verified and cached as soon as its bytes
   * are in, so a read of a run's first chunk does not wait for the whole run (a 2 MiB prefetch
   * piece is ~0.2 s at 100 Mbit/s). Of the chunks that are in, one a read waits for goes first,
   * and its reply goes out before the rest is decoded. Small chunks are decoded right here (two
   * thread hops per chunk cost more than inflating a source file, all the more on a busy
   * machine), big ones go to the decoder threads.
   */
  private async fetchAndDecode(group: ChunkRef[], ticket: Ticket, wanted: Set<number>, settle: Map<number, Settle>, queued: number): Promise<void> {
    const t0 = performance.now();
    let tNet = t0;
    const prio = ticket.prio;
    const trace = process.env.EDGEBUILD_STARGZ_TRACE;
    const one = async (c: ChunkRef, compressed: Uint8Array, here: boolean) => {
      try {
        const t1 = performance.now();
        const plain = await this.decode(c, compressed, here, prio === READ || (() => this.awaited.has(c.id)));
        if (plain !== STORED) this.opts.cache.put(this.opts.layerDigest, c, plain);
        this.markCached(c);
        settle.get(c.id)!.resolve();
        if (trace) this.opts.log(`trace ${(performance.timeOrigin + performance.now()).toFixed(0)} cached ${c.id} in ${(performance.now() - t1).toFixed(1)} ms${here ? " here" : ""}`);
      } catch (e) {
        // EstargzError names the layer, the file and the chunk; never hand out the bytes.
        const err = e as Error;
        this.lastError = err.message;
        this.opts.log(`stargz: ${err.message}`);
        settle.get(c.id)!.reject(err);
      }
    };
    const read = (c: ChunkRef) => (ticket.origin === READ && wanted.has(c.id)) || this.awaited.has(c.id);
    const small = (c: ChunkRef) => !!this.opts.decoders?.size && c.innerOffset + c.chunkSize <= INLINE_DECODE_BYTES;
    // Chunks whose bytes are in, waiting for their decode; drained by one loop at a time.
    const ready: { c: ChunkRef; compressed: Uint8Array }[] = [];
    const posted: Promise<void>[] = [];
    let draining: Promise<void> | undefined;
    const drain = async () => {
      await undefined; // `draining` is set before this runs, so the reset at the end is not overwritten
      let slice = performance.now();
      while (ready.length) {
        const i = Math.max(0, ready.findIndex((r) => read(r.c)));
        const [{ c, compressed }] = ready.splice(i, 1);
        if (!small(c)) {
          posted.push(one(c, compressed, false));
          continue;
        }
        await one(c, compressed, true);
        // A read's chunk: its reply first. Else now and then: other replies, requests and misses.
        if (ready.length && (read(c) || performance.now() - slice > SLICE_MS)) {
          await yieldNow();
          slice = performance.now();
        }
      }
      draining = undefined;
    };
    const failed = await this.limiter.run(async () => {
      tNet = performance.now();
      const todo = group.filter((c) => !this.isCached(c.id));
      if (todo.length === 0) return undefined;
      const start = todo[0].offset;
      const end = Math.max(...todo.map((c) => c.compressedEnd));
      const bytes = new Uint8Array(end - start);
      let received = 0;
      let next = 0; // todo is in blob order: chunks complete front to back
      try {
        await this.opts.source.stream({ offset: start, length: end - start }, (piece) => {
          bytes.set(piece, received);
          received += piece.length;
          const before = next;
          for (; next < todo.length && todo[next].compressedEnd - start <= received; next++) {
            const c = todo[next];
            ready.push({ c, compressed: bytes.subarray(c.offset - start, c.compressedEnd - start) });
          }
          if (next > before) draining ??= drain();
        });
      } catch (e) {
        const message = (e as Error).message;
        // BlobSource's errors name the blob (the layer digest) already.
        return { todo: todo.slice(next), error: new Error(message.includes(this.opts.layerDigest) ? message : `layer ${this.opts.layerDigest}: ${message}`) };
      }
      if (trace) this.opts.log(`trace ${(performance.timeOrigin + performance.now()).toFixed(0)} fetched ${todo.map((c) => c.id).join(",")} (${bytes.length} B${["", ", background", ", speculative"][prio]}) in ${(performance.now() - t0).toFixed(0)} ms (pipeline wait ${(t0 - queued).toFixed(0)}, network slot wait ${(tNet - t0).toFixed(0)}, request ${(performance.now() - tNet).toFixed(0)})`);
      return undefined;
    }, ticket);
    if (failed) {
      this.lastError = failed.error.message;
      this.opts.log(`stargz: ${failed.error.message} (for ${describe(failed.todo)})`);
      for (const c of failed.todo) settle.get(c.id)!.reject(failed.error);
    }
    while (draining) await draining;
    await Promise.all(posted);
  }

  private markCached(c: ChunkRef, notify = true): void {
    if (this.counted.has(c.id)) return;
    this.counted.add(c.id);
    this.cachedChunks++;
    if (notify) this.opts.onCached?.(c);
  }

  /**
   * Inflate and verify one chunk: `here` (or without decoder threads) on this thread, else on a
   * decoder thread; either writes it to the disk cache (STORED) unless the cache runs memory-only.
   */
  private async decode(c: ChunkRef, compressed: Uint8Array, here: boolean, urgent: boolean | (() => boolean)): Promise<Uint8Array | typeof STORED> {
    const { reader, decoders, cache, layerDigest } = this.opts;
    if (!decoders?.size) return reader.decodeChunk(c.file, c.index, compressed);
    const spec = c.file.chunks[c.index];
    const want = spec.chunkDigest ?? (c.file.chunks.length === 1 ? c.file.digest : undefined);
    const path = cache.memoryOnly ? undefined : cache.path(layerDigest, c);
    const job = { kind: reader.compression, compressed, innerOffset: c.innerOffset, chunkSize: c.chunkSize, want, path };
    const r = here ? runDecode({ ...job, id: 0 }) : await decoders.decode(job, urgent);
    if ("stored" in r) return STORED;
    // The cache's own write decides what a failed write means (disk full: memory only; else an error).
    if ("plain" in r) return r.plain;
    // A member inflating far past its chunk (the reader streams it and stops early), or a decoder gone.
    if (r.retryHere) return reader.decodeChunk(c.file, c.index, compressed);
    throw new EstargzError(reader.layerDigest, c.file.name, `chunk ${c.index} (file offset ${c.chunkOffset}, blob offset ${c.offset}): ${r.error}`);
  }
}

type Settle = { resolve: () => void; reject: (e: Error) => void };

/** Chunks up to this size (plain bytes) are decoded on the fetch thread. */
const INLINE_DECODE_BYTES = 128 << 10;
/** Decoding on the fetch thread yields to its event loop this often (ms). */
const SLICE_MS = 2;

const yieldNow = () => new Promise<void>((r) => setImmediate(r));

const STORED = Symbol("stored");

function describe(chunks: ChunkRef[]): string {
  const names = [...new Set(chunks.map((c) => c.file.name))];
  return names.length <= 3 ? names.map((n) => JSON.stringify(n)).join(", ") : `${names.length} files`;
}
