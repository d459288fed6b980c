// Mount-time prefetch (everything before `.prefetch.landmark`, in one request) and the slow
// background fetch of the rest, in blob order, one request per period (the rate cap).
import type { LayerFetcher } from "./fetcher.ts";
import type { ChunkRef } from "./lazyfs/chunks.ts";

/** Chunks whose compressed span lies within [0, end). */
export function chunksBefore(chunks: ChunkRef[], end: number): number[] {
  return chunks.filter((c) => c.compressedEnd <= end).map((c) => c.id);
}

export interface BackgroundOptions {
  periodMs: number;
  requestBytes: number;
  stopped: () => boolean;
  onState: (state: string) => void;
}

/** Fetches every uncached chunk, a run of about `requestBytes` at a time. Failures are left for reads. */
export async function backgroundFetch(fetcher: LayerFetcher, opts: BackgroundOptions): Promise<void> {
  const ordered = [...fetcher.chunks].sort((a, b) => a.offset - b.offset);
  let i = 0;
  opts.onState("background");
  while (i < ordered.length && !opts.stopped()) {
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
