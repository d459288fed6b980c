// The lazy layer filesystem: the fs module each FUSE handler worker loads (see fuse/types.ts).
// Metadata comes from the layer index the fetch thread built and shares (index-fs.ts); file data
// from verified chunks (chunk-client.ts).
import { Errno, S_IFMT, S_IFREG } from "../fuse/abi.ts";
import { FsError, type FileSpan, type ReadOnlyFs } from "../fuse/types.ts";
import { ChunkClient } from "./chunk-client.ts";
import { fileCachePath } from "./chunks.ts";
import { IndexFs } from "./index-fs.ts";
import type { LazyFsInit, LazyLayerInfo } from "./protocol.ts";

class LazyFs extends IndexFs implements ReadOnlyFs {
  private readonly chunks: ChunkClient;
  private readonly init: LazyLayerInfo;

  /** `inline`: the FUSE reader thread's instance (createInlineFs): reads from the disk cache only. */
  constructor(init: LazyFsInit, inline = false) {
    const { index, ...info } = init;
    super(index, init.overlayXattrPrefix);
    this.init = info;
    this.chunks = new ChunkClient(info, this.index, !inline);
  }

  /** Chunk ids holding [offset, end) of `ino` (end clipped to its size), or undefined when there is nothing to read. */
  private span(ino: bigint, offset: number, size: number): { ids: number[]; end: number } | undefined {
    const i = this.at(ino);
    const c = this.index.cols;
    if ((c.mode[i] & S_IFMT) !== S_IFREG) throw new FsError(Errno.EISDIR);
    const end = Math.min(c.size[i], offset + size);
    if (c.a1[i] === 0 || offset >= end) return undefined;
    const first = this.index.chunkAt(i, offset);
    const last = this.index.chunkAt(i, end - 1);
    return { ids: Array.from({ length: last - first + 1 }, (_, k) => first + k), end };
  }

  readSync(ino: bigint, offset: number, size: number): Uint8Array | undefined {
    const s = this.span(ino, offset, size);
    return s ? this.chunks.readLocal(s.ids, offset, s.end) : new Uint8Array(0);
  }

  readFiles(ino: bigint, offset: number, size: number): FileSpan[] | undefined {
    const s = this.span(ino, offset, size);
    return s ? this.chunks.localFiles(s.ids, offset, s.end) : [];
  }

  async read(ino: bigint, offset: number, size: number): Promise<Uint8Array> {
    const s = this.span(ino, offset, size);
    if (!s) return new Uint8Array(0);
    try {
      return await this.chunks.read(s.ids, offset, s.end);
    } catch (e) {
      // The main thread already logged the cause with the layer digest and file name.
      throw new FsError(Errno.EIO, `${this.init.layerDigest} ${this.pathOf(ino)}: ${(e as Error).message}`);
    }
  }

  readDone(data: Uint8Array): void {
    this.chunks.release(data);
  }

  backingFile(ino: bigint): { path: string } | undefined {
    if (!this.init.passthrough) return undefined;
    const i = this.index.indexOf(ino);
    const c = this.index.cols;
    if (i < 0 || (c.mode[i] & S_IFMT) !== S_IFREG || c.a1[i] === 0) return undefined;
    const first = c.a0[i];
    // A single chunk's cache file holds exactly the file; bigger files get a whole copy once complete.
    if (c.a1[i] === 1) return this.chunks.onDisk(first) ? { path: this.chunks.cachePath(first) } : undefined;
    const whole = fileCachePath(this.init.cacheDir, this.init.layerDigest, { offset: c.offset[first], innerOffset: c.innerOffset[first] });
    return Bun.file(whole).size === c.size[i] ? { path: whole } : undefined;
  }
}

export function createFs(init: unknown): ReadOnlyFs {
  return new LazyFs(init as LazyFsInit);
}

/** The FUSE reader thread's instance (fuse/types.ts InlineFsFactory): metadata from the shared
 *  index, reads only when their chunks are in the disk cache; the rest goes to a handler worker. */
export function createInlineFs(init: unknown): ReadOnlyFs {
  return new LazyFs(init as LazyFsInit, true);
}

export default createFs;

// The same file is the entry of the fetch thread, the decoder threads and the TOC parse threads
// (fetch-thread.ts, toc-parse.ts explain why): start the right service when the main thread says so. FUSE handler workers never
// get these messages.
declare const self: Worker | undefined;
if (typeof self !== "undefined" && typeof self.addEventListener === "function" && !Bun.isMainThread) {
  const early: MessageEvent[] = [];
  let started = false;
  const onMessage = (e: MessageEvent) => {
    const type = (e.data as { type?: string } | undefined)?.type;
    if (type === "stargz-decoder-thread-init") {
      self!.removeEventListener("message", onMessage);
      import("../decode-pool.ts").then(({ serveDecodes }) => serveDecodes((e.data as { port: MessagePort }).port));
    } else if (type === "stargz-toc-parse") {
      self!.removeEventListener("message", onMessage);
      import("../toc-parse.ts").then(({ serveTocParse }) => serveTocParse(e.data, self!));
    } else if (type === "stargz-fetch-thread-init") {
      started = true;
      import("../fetch-thread-main.ts").then(({ startFetchService }) => {
        self!.removeEventListener("message", onMessage);
        startFetchService(e.data, self!, early);
      });
    } else if (started) {
      early.push(e); // arrived while the service module loads
    }
  };
  self.addEventListener("message", onMessage);
}
