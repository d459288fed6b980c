// Mount-time prefetch (everything before `.prefetch.landmark`, asked for at once in pieces of
// PREFETCH_REQUEST_BYTES, so the first files decode and serve reads while the rest is on the wire)
// and the slow background fetch of the rest, in blob order, one request per period (the rate
// cap), which yields to demand: it runs only once no layer has prefetched or served a read miss
// for `silence_msec` (like stargz-snapshotter's background fetcher, it must not take bandwidth
// from the reads a workload is waiting for).
import type { LayerFetcher } from "./fetcher.ts";
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
