// A verified TOC crossing threads (parse thread → fetch thread → main → each FUSE handler worker)
// as the layer index: the inode tree and chunk table, built once by a TOC parse thread
// (toc-parse.ts) into a SharedArrayBuffer (lazyfs/inode-tree.ts, lazyfs/layer-index.ts).
// postMessage shares such a buffer instead of copying it, so the main thread, the fetch thread
// and every worker of the mount read the same memory and none parses the TOC again. (Before, the
// TOC JSON crossed and each worker parsed it and built its own tree of objects: ~0.6 s and ~25 MB
// per worker for the 13.7k-entry Go toolchain layer.)
import type { LayerIndexData } from "./lazyfs/layer-index.ts";

export interface WireToc {
  layerDigest: string;
  index: LayerIndexData;
}
