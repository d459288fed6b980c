// `[plugins."snapshotter.stargz"]`: stargz-snapshotter's setting names, so its docs apply.
import { availableParallelism } from "node:os";
import * as v from "valibot";

const uint = v.pipe(v.number(), v.integer(), v.minValue(0));
const positive = v.pipe(v.number(), v.integer(), v.minValue(1));

export const StargzConfigSchema = v.strictObject({
  /** Bytes fetched at mount when a layer has no landmark (0: none). */
  prefetch_size: v.optional(uint, 0),
  /** How long a first read waits for the mount-time prefetch before fetching on its own. */
  prefetch_timeout_sec: v.optional(v.pipe(v.number(), v.minValue(0)), 10),
  noprefetch: v.optional(v.boolean(), false),
  /**
   * Bytes of a cold gzip layer's head asked for together with its footer and TOC, before the TOC
   * says where the prefetch region ends (it is cut there or continued), so the link is not idle
   * for the TOC's round trips; dropped within a round trip when the blob's first entry is its
   * no-prefetch landmark. 0: the head waits for the TOC. (edgebuild's own setting.)
   */
  speculative_head_size: v.optional(uint, 512 << 10),
  no_background_fetch: v.optional(v.boolean(), false),
  /** Range requests in flight per layer. */
  max_concurrency: v.optional(positive, 2),
  /** Mount layers without checking their TOC against the toc.digest annotation (chunks are still checked). */
  disable_verification: v.optional(v.boolean(), false),
  blob: v.optional(
    v.strictObject({
      /** Smallest range requested: short fetches grow over the following chunks up to this many bytes. */
      chunk_size: v.optional(uint, 50_000),
      max_retries: v.optional(uint, 5),
      min_wait_msec: v.optional(uint, 30),
      max_wait_msec: v.optional(uint, 2_000),
      /** A read that cannot get its bytes within this time fails with EIO. */
      fetching_timeout_sec: v.optional(v.pipe(v.number(), v.minValue(0.1)), 30),
      /** Chunks of a file fetched ahead once it is read sequentially. */
      readahead_chunks: v.optional(uint, 2),
      /** Most compressed bytes fetched after a read miss from the blob that follows it (files read
       *  together lie together), at low priority; 0, or no_background_fetch: off. */
      neighbor_fetch_size: v.optional(uint, 1 << 20),
    }),
    {},
  ),
  background_fetch: v.optional(
    v.strictObject({
      /** Pause between background requests: the rate cap. */
      fetch_period_msec: v.optional(uint, 100),
      /** Compressed bytes per background request. */
      fetch_size: v.optional(positive, 1 << 20),
      /** Background requests wait until no layer has prefetched or missed a read for this long. */
      silence_msec: v.optional(uint, 2_000),
    }),
    {},
  ),
  fuse: v.optional(
    v.strictObject({
      passthrough: v.optional(v.boolean(), false),
      /** Seconds the kernel caches attributes and lookups (layers are immutable). */
      attr_timeout: v.optional(v.pipe(v.number(), v.minValue(0)), 60),
      /** Handler threads serving a mount's reads that wait for the network (shared by all mounts of
       *  the process; the mount's reader thread answers everything already local itself). All of
       *  them read the one shared layer index, so another thread costs a few MB, not a tree copy. */
      workers: v.optional(positive, 1),
      /** Chunk bytes each FUSE worker keeps in memory when the cache disk is full (reads otherwise come from the disk cache). */
      memory_cache_mb: v.optional(uint, 64),
    }),
    {},
  ),
  /**
   * Threads that inflate and verify fetched chunks (0: the fetch thread does it). Default: one per
   * core beyond the first, at most 2. On 2 cores one thread gave the lower times and ~10 MB less
   * peak RSS (bench --profile wan, interleaved: python 0.79 vs 0.85 s, gcc 2.24 vs 2.27 s, golang
   * 3.41 vs 3.56 s at 140-141 vs 149-156 MB): the second one's start-up and heap cost more than
   * its parallel inflating saved while the fetch thread, FUSE threads and the build shared 2 cores.
   */
  decode_threads: v.optional(uint, defaultDecodeThreads()),
  /** "user" when overlayfs runs with userxattr (opaque dirs then report user.overlay.opaque). */
  overlay_xattr_prefix: v.optional(v.picklist(["trusted", "user"]), "trusted"),
});

export type StargzConfig = v.InferOutput<typeof StargzConfigSchema>;

export function defaultDecodeThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(2, cores - 1));
}

export function defaultStargzConfig(over: Partial<v.InferInput<typeof StargzConfigSchema>> = {}): StargzConfig {
  return v.parse(StargzConfigSchema, over);
}
