// Mount-time prefetch (everything before `.prefetch.landmark`, asked for at once in pieces of
// PREFETCH_REQUEST_BYTES, so the first files decode and serve reads while the rest is on the wire)
// and the slow background fetch of the rest, in blob order, one request per period (the rate
// cap), which yields to demand: it runs only once no layer has prefetched or served a read miss
// for `silence_msec` (like stargz-snapshotter's background fetcher, it must not take bandwidth
// from the reads a workload is waiting for).
import type { EnsureOptions, LayerFetcher } from "./fetcher.ts";
import type { ChunkRef } from "./lazyfs/chunks.ts";

/** Compressed bytes per prefetch request: big enough that a request's round trip is small beside
 *  its transfer, small enough that decoding starts early (requests run `max_concurrency` at once). */
export const PREFETCH_REQUEST_BYTES = 2 << 20;

/** When a snapshotter's layers last wanted bytes urgently (prefetch or read miss), across layers:
 *  they share one network. */
export class DemandTracker {
  private active = 0;
  private last = Number.NEGATIVE_INFINITY;

  constructor(
    readonly silenceMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Counts `work` as demand while it runs. */
  during<T>(work: Promise<T>): Promise<T> {
    this.active++;
    this.last = this.now();
    const done = () => {
      this.active--;
      this.last = this.now();
    };
    work.then(done, done);
    return work;
  }

  /** Milliseconds without demand (0 while some runs). */
  quietFor(): number {
    return this.active > 0 ? 0 : this.now() - this.last;
  }

  /** Resolves once there has been no demand for `silenceMs` (or `stopped()`). */
  async waitQuiet(stopped: () => boolean, pollMs = 50): Promise<void> {
    while (!stopped() && this.quietFor() < this.silenceMs) await new Promise((r) => setTimeout(r, Math.max(pollMs, this.silenceMs - this.quietFor())));
  }
}

/** Chunks whose compressed span lies within [0, end). */
export function chunksBefore(chunks: ChunkRef[], end: number): number[] {
  return chunks.filter((c) => c.compressedEnd <= end).map((c) => c.id);
}

export interface BackgroundOptions {
  periodMs: number;
  requestBytes: number;
  stopped: () => boolean;
  onState: (state: string) => void;
  /** Waited on before each request: background work yields to reads and prefetch. */
  demand?: DemandTracker;
}

/** Fetches every uncached chunk, a run of about `requestBytes` at a time. Failures are left for reads. */
export async function backgroundFetch(fetcher: LayerFetcher, opts: BackgroundOptions): Promise<void> {
  const ordered = [...fetcher.chunks].sort((a, b) => a.offset - b.offset);
  let i = 0;
  opts.onState("background");
  while (i < ordered.length && !opts.stopped()) {
    await opts.demand?.waitQuiet(opts.stopped);
    if (opts.stopped()) break;
    const run: number[] = [];
    const start = ordered[i].offset;
    for (; i < ordered.length; i++) {
      const c = ordered[i];
      if (fetcher.isCached(c.id) || fetcher.isInflight(c.id)) {
        if (run.length) break;
        continue;
      }
      if (run.length && c.compressedEnd - start > opts.requestBytes) break;
      run.push(c.id);
    }
    if (run.length === 0) continue;
    await fetcher.ensure(run, { urgent: false }).catch(() => {});
    await new Promise((r) => setTimeout(r, opts.periodMs));
  }
  if (!opts.stopped()) opts.onState(fetcher.complete ? "complete" : "mounted");
}

export interface NeighbourOptions {
  /** Compressed bytes fetched after a miss that starts no run of misses. */
  baseBytes: number;
  /** The most fetched after one miss, however long the run. */
  maxBytes: number;
  /** Files bigger than this end the neighbourhood. */
  bigFileBytes: number;
  stopped: () => boolean;
  /** Called with each neighbourhood fetched (tracing). */
  onFetch?: (after: number, ids: number[], window: number) => void;
}

/** Runs of misses remembered (several files can be read in turns, e.g. parallel compiles). */
const STREAMS = 8;
/** Neighbourhoods on the way at once per layer (each run of misses gets its own). */
const PARALLEL = 2;

/**
 * Neighbour fetch: files read together lie together in the blob (tar order: a package's sources
 * are adjacent), so after a read miss is answered, the compressed bytes that follow it are fetched
 * too, as speculative work (after reads and prefetch, never in a layer's last free network slot),
 * decoded off the reader's path. The window is adaptive: `baseBytes` after a lone miss, doubling
 * (up to `maxBytes`) while misses keep landing at or just past the end of the previous
 * neighbourhood (a reader walking forward), and it stops at big files. At most PARALLEL
 * neighbourhoods are on the way; later misses wait their turn (the latest STREAMS of them).
 */
export class NeighbourFetch {
  /** Per run of misses: where its last neighbourhood starts and ends, and its window. */
  private readonly streams: { from: number; end: number; window: number }[] = [];
  private running = 0;
  private readonly queue: number[] = [];

  constructor(
    private readonly fetcher: Pick<LayerFetcher, "chunks" | "following" | "ensure">,
    readonly opts: NeighbourOptions,
  ) {}

  /** A read missed chunks `ids` (of one file) and they were fetched for it. */
  missed(ids: number[]): void {
    if (ids.length === 0 || this.opts.maxBytes === 0) return;
    const chunks = this.fetcher.chunks;
    const last = ids.reduce((a, b) => (chunks[b].offset > chunks[a].offset ? b : a));
    if (this.running < PARALLEL) {
      void this.run(last);
      return;
    }
    this.queue.unshift(last);
    this.queue.length = Math.min(this.queue.length, STREAMS);
  }

  private windowAfter(c: ChunkRef): number {
    const at = this.streams.findIndex((s) => c.offset >= s.from && c.offset <= s.end + s.window);
    const window = at >= 0 ? Math.min(this.streams[at].window * 2, this.opts.maxBytes) : Math.min(this.opts.baseBytes, this.opts.maxBytes);
    if (at >= 0) this.streams.splice(at, 1);
    this.streams.unshift({ from: c.offset, end: c.compressedEnd + window, window });
    this.streams.length = Math.min(this.streams.length, STREAMS);
    return window;
  }

  private async run(id: number | undefined): Promise<void> {
    this.running++;
    try {
      while (id !== undefined && !this.opts.stopped()) {
        const window = this.windowAfter(this.fetcher.chunks[id]);
        const ids = this.fetcher.following(id, window, this.opts.bigFileBytes);
        if (ids.length) {
          this.opts.onFetch?.(id, ids, window);
          const how: EnsureOptions = { urgent: false, speculative: true, exact: true };
          await this.fetcher.ensure(ids, how).catch(() => {}); // failures are left for reads
        }
        id = this.queue.shift();
      }
    } finally {
      this.running--;
    }
  }
}
