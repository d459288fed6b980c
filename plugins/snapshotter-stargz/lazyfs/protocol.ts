// What the main thread hands each FUSE worker (structured-cloneable) and the messages they trade.
//
// Network fetches happen only in the main thread: one fetch per chunk however many workers wait,
// prefetch and background fetch in one place, and no credentials copied into workers. Workers ask
// over a BroadcastChannel (the FUSE server gives the fs module nothing but its init data, and a
// named channel needs nothing transferred); the main thread answers once the chunks are verified
// and in the disk cache, so replies stay tiny; workers then pread the bytes a read needs. Only in
// memory-only mode (cache disk full) do the verified bytes ride along in the reply.
import type { LayerIndexData } from "./layer-index.ts";

export interface LazyFsInit {
  layerDigest: string;
  /** The layer's inode tree and chunk table, built by the fetch thread and shared by every
   *  worker of the mount (layer-index.ts). */
  index: LayerIndexData;
  /** Name of the BroadcastChannel the layer's fetcher listens on. */
  channel: string;
  cacheDir: string;
  /** Hand fully cached single-chunk files to the kernel (FUSE passthrough). */
  passthrough: boolean;
  /** Bytes of inline chunks (memory-only mode) each worker keeps. */
  memoryCacheBytes: number;
  /** First readahead window (chunks) for a sequential reader; 0: no readahead. */
  readaheadChunks: number;
  /** "trusted" (default) or "user" when overlayfs runs with userxattr. */
  overlayXattrPrefix: "trusted" | "user";
}

/** A worker's init besides the index. */
export type LazyLayerInfo = Omit<LazyFsInit, "index">;

export interface FetchRequest {
  t: "fetch";
  /** The asking worker's nonce: replies are broadcast, each worker keeps its own. */
  w: string;
  id: number;
  chunks: number[];
  /** Not a miss: the worker started reading `chunks[0]` (from disk); the fetch thread may read
   *  ahead. Nobody waits: no reply. */
  hint?: boolean;
}

export interface FetchReply {
  t: "done";
  w: string;
  id: number;
  error?: string;
  /** Verified bytes of chunks the disk cache could not take (memory-only mode). */
  inline?: [number, Uint8Array][];
}

export type ChannelMessage = FetchRequest | FetchReply;
