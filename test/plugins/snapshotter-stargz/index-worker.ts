// Worker for inode-tree.test.ts: loads the lazy fs module the way a FUSE handler worker does and
// answers metadata requests from it.
import createFs from "../../../plugins/snapshotter-stargz/lazyfs/fs.ts";
import type { ReadOnlyFs } from "../../../plugins/snapshotter-stargz/fuse/types.ts";

declare const self: Worker;
let fs: ReadOnlyFs | undefined;
self.onmessage = (e: MessageEvent) => {
  const m = e.data as { init?: unknown; lookup?: [bigint, string]; readdir?: bigint };
  if (m.init) {
    fs = createFs(m.init);
    self.postMessage("ready");
  } else if (m.lookup) {
    self.postMessage(fs!.lookup(BigInt(m.lookup[0]), m.lookup[1]));
  } else if (m.readdir !== undefined) {
    self.postMessage(fs!.readdir(BigInt(m.readdir)).map((d) => d.name));
  }
};
