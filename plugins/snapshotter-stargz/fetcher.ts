// Main-thread chunk fetcher of one lazy layer: whatever asks (FUSE workers, prefetch, background
// fetch), each chunk is fetched once, adjacent chunks go out as one range request, at most
// `maxConcurrency` requests run at a time, and every chunk is checked against its chunkDigest
// before it reaches the cache. A bad chunk fails only the reads that need it, with a log line.
import type { EstargzReader } from "./estargz/index.ts";
import type { BlobSource } from "./blob-source.ts";
import type { ChunkCache } from "./cache.ts";
import { EstargzError } from "./estargz/index.ts";
import type { DecodePool } from "./decode-pool.ts";
import type { ChunkRef, ChunkTable } from "./lazyfs/chunks.ts";

export interface FetcherOptions {
  layerDigest: string;
  reader: EstargzReader;
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
  /** Wait at most this long for a fetch someone else started (the prefetch), then fetch anew. */
  waitCapMs?: number;
  /** Overrides the largest range per request (the prefetch asks for its range in one). */
  maxRequestBytes?: number;
  /** Fetch exactly these chunks, without growing short requests over their neighbours. */
  exact?: boolean;
}

class Semaphore {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  constructor(private readonly n: number) {}
  async run<T>(fn: () => Promise<T>, urgent: boolean): Promise<T> {
    if (this.active >= this.n) await new Promise<void>((r) => (urgent ? this.queue.unshift(r) : this.queue.push(r)));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}

export class LayerFetcher {
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly limiter: Semaphore;
  /** Runs being fetched or decoded: twice the requests, so decoding overlaps the next requests. */
  private readonly pipeline: Semaphore;
  /** Chunks ordered by blob offset, for growing requests over neighbours. */
  private readonly byOffset: ChunkRef[];
  private readonly position = new Map<number, number>();
  lastError: string | undefined;
  cachedChunks = 0;
  /** Chunks counted in cachedChunks (each once, whoever cached it). */
  private readonly counted = new Set<number>();

  constructor(readonly opts: FetcherOptions) {
    this.limiter = new Semaphore(opts.maxConcurrency);
    this.pipeline = new Semaphore(opts.maxConcurrency * 2);
    this.byOffset = [...opts.table.chunks].sort((a, b) => a.offset - b.offset || a.innerOffset - b.innerOffset);
    this.byOffset.forEach((c, i) => this.position.set(c.id, i));
    for (const c of this.byOffset) if (opts.cache.has(opts.layerDigest, c)) this.markCached(c, false);
  }

  get chunks(): ChunkRef[] {
    return this.opts.table.chunks;
  }

  isCached(id: number): boolean {
    return this.opts.cache.has(this.opts.layerDigest, this.chunks[id]);
  }

  isInflight(id: number): boolean {
    return this.inflight.has(id);
  }

  get complete(): boolean {
    return this.cachedChunks >= this.byOffset.length;
  }

  /**
   * Makes sure every chunk in `ids` is verified and cached (disk, or memory when the disk is full).
   * `urgent` requests (reads) jump the queue ahead of background work.
   */
  async ensure(ids: number[], how: EnsureOptions = {}): Promise<void> {
    const urgent = how.urgent ?? true;
    const waitCapMs = how.waitCapMs;
    const waits: Promise<void>[] = [];
    const missing: ChunkRef[] = [];
    for (const id of new Set(ids)) {
      const pending = this.inflight.get(id);
      if (pending) waits.push(waitCapMs === undefined ? pending : this.capped(id, pending, waitCapMs, urgent));
      else if (!this.isCached(id)) missing.push(this.chunks[id]);
    }
    for (const group of this.groups(missing, how.maxRequestBytes ?? this.opts.maxRequestBytes, !how.exact)) waits.push(this.fetchGroup(group, urgent));
    await Promise.all(waits);
  }

  /** Waits for another fetch of `id` up to `capMs` (the prefetch timeout), then fetches it itself. */
  private async capped(id: number, pending: Promise<void>, capMs: number, urgent: boolean): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = await Promise.race([
      pending.then(() => false),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(true), capMs))),
    ]).finally(() => clearTimeout(timer));
    if (timedOut && !this.isCached(id)) await this.fetchGroup([this.chunks[id]], urgent);
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
    for (let i = this.position.get(last.id)! + 1; i < this.byOffset.length && last.compressedEnd - start < min; i++) {
      const c = this.byOffset[i];
      if (c.offset !== last.compressedEnd && c.offset !== last.offset) break;
      if (this.inflight.has(c.id) || this.isCached(c.id)) break;
      if (c.compressedEnd - start > min) break;
      run.push(c);
      last = c;
    }
    return run;
  }

  private fetchGroup(group: ChunkRef[], urgent: boolean): Promise<void> {
    const job = this.download(group, urgent);
    const each = group.map((c) => {
      const p = job.then((failures) => {
        const f = failures.get(c.id);
        if (f) throw f;
      });
      this.inflight.set(c.id, p);
      p.catch(() => {}).finally(() => {
        if (this.inflight.get(c.id) === p) this.inflight.delete(c.id);
      });
      return p;
    });
    return Promise.all(each).then(() => {});
  }

  /**
   * One range request for a run (at most `maxConcurrency` at a time), then each chunk decoded,
   * verified and cached; returns the chunks that failed, with why. Only the request holds a
   * network slot: decoding overlaps the next requests.
   */
  private download(group: ChunkRef[], urgent: boolean): Promise<Map<number, Error>> {
    // Fetched bodies wait for the decoders within this bound, so a burst (a big prefetch) cannot
    // pile up compressed bytes in memory faster than they are decoded.
    return this.pipeline.run(() => this.fetchAndDecode(group, urgent), urgent);
  }

  private async fetchAndDecode(group: ChunkRef[], urgent: boolean): Promise<Map<number, Error>> {
    const failures = new Map<number, Error>();
    const t0 = performance.now();
    const got = await this.limiter.run(async () => {
      const todo = group.filter((c) => !this.isCached(c.id));
      if (todo.length === 0) return undefined;
      const start = todo[0].offset;
      const end = Math.max(...todo.map((c) => c.compressedEnd));
      try {
        const [bytes] = await this.opts.source.fetch([{ offset: start, length: end - start }]);
        return { todo, start, bytes };
      } catch (e) {
        const message = (e as Error).message;
        // BlobSource's errors name the blob (the layer digest) already.
        return { todo, error: new Error(message.includes(this.opts.layerDigest) ? message : `layer ${this.opts.layerDigest}: ${message}`) };
      }
    }, urgent);
    if (!got) return failures;
    const { todo } = got;
    if (got.error || !got.bytes) {
      const err = got.error ?? new Error(`layer ${this.opts.layerDigest}: no bytes`);
      this.lastError = err.message;
      this.opts.log(`stargz: ${err.message} (for ${describe(todo)})`);
      for (const c of todo) failures.set(c.id, err);
      return failures;
    }
    const { bytes, start } = got;
    if (process.env.EDGEBUILD_STARGZ_TRACE) this.opts.log(`trace ${performance.now().toFixed(0)} fetched ${todo.map((c) => c.id).join(",")} in ${(performance.now() - t0).toFixed(0)} ms`);
    // Writes are synchronous: this thread exists for this work, and the thread pool behind async
    // fs and zlib calls is shared with whoever is blocked reading our mounts — a process reading
    // many lazy files at once would leave no pool thread to serve them.
    await Promise.all(
      todo.map(async (c) => {
        try {
          const t1 = performance.now();
          const plain = await this.decode(c, bytes.subarray(c.offset - start, c.compressedEnd - start));
          if (plain !== STORED) this.opts.cache.put(this.opts.layerDigest, c, plain);
          this.markCached(c);
          if (process.env.EDGEBUILD_STARGZ_TRACE) this.opts.log(`trace ${performance.now().toFixed(0)} cached ${c.id} in ${(performance.now() - t1).toFixed(0)} ms`);
        } catch (e) {
          // EstargzError names the layer, the file and the chunk; never hand out the bytes.
          const err = e as Error;
          this.lastError = err.message;
          this.opts.log(`stargz: ${err.message}`);
          failures.set(c.id, err);
        }
      }),
    );
    return failures;
  }

  private markCached(c: ChunkRef, notify = true): void {
    if (this.counted.has(c.id)) return;
    this.counted.add(c.id);
    this.cachedChunks++;
    if (notify) this.opts.onCached?.(c);
  }

  /**
   * Inflate and verify one chunk: on a decoder thread when there are some, which also writes it
   * to the disk cache (STORED) unless the cache runs memory-only.
   */
  private async decode(c: ChunkRef, compressed: Uint8Array): Promise<Uint8Array | typeof STORED> {
    const { reader, decoders, cache, layerDigest } = this.opts;
    if (!decoders?.size) return reader.decodeChunk(c.file, c.index, compressed);
    const spec = c.file.chunks[c.index];
    const want = spec.chunkDigest ?? (c.file.chunks.length === 1 ? c.file.digest : undefined);
    const path = cache.memoryOnly ? undefined : cache.path(layerDigest, c);
    const r = await decoders.decode({ kind: reader.compression, compressed, innerOffset: c.innerOffset, chunkSize: c.chunkSize, want, path });
    if ("stored" in r) return STORED;
    // The cache's own write decides what a failed write means (disk full: memory only; else an error).
    if ("plain" in r) return r.plain;
    // A member inflating far past its chunk (the reader streams it and stops early), or a decoder gone.
    if (r.retryHere) return reader.decodeChunk(c.file, c.index, compressed);
    throw new EstargzError(reader.layerDigest, c.file.name, `chunk ${c.index} (file offset ${c.chunkOffset}, blob offset ${c.offset}): ${r.error}`);
  }
}

const STORED = Symbol("stored");

function describe(chunks: ChunkRef[]): string {
  const names = [...new Set(chunks.map((c) => c.file.name))];
  return names.length <= 3 ? names.map((n) => JSON.stringify(n)).join(", ") : `${names.length} files`;
}
