// Worker side of chunk access: the bytes of a read come straight from the shared disk cache with
// pread into the reply buffer (one copy; the kernel's page cache is the memory cache). Missing
// chunks are asked for from the fetch thread (which fetches, verifies and caches them), then read.
// Only in memory-only mode (cache disk full) do verified bytes arrive inline and sit in a small LRU.
import { closeSync, openSync, readSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { chunkCachePath } from "./chunks.ts";
import type { LayerIndex } from "./layer-index.ts";
import type { FileSpan } from "../fuse/types.ts";
import { ByteLru } from "./lru.ts";
import type { ChannelMessage, FetchRequest, LazyLayerInfo } from "./protocol.ts";

/** Reply buffers for big reads are this big (the most the kernel asks per READ: fuse/init.ts
 *  MAX_PAGES) and reused; small reads take small buffers. */
const POOLED_BYTES = 1 << 20;
const POOLED_FROM = 128 << 10;
const POOL_MAX = 4;

export class ChunkClient {
  /** Free reply buffers: fresh memory costs a page fault per 4 KiB, so a read reuses one. */
  private readonly pool: Uint8Array[] = [];
  /** Chunks that came inline (memory-only mode). */
  private readonly inline: ByteLru<number>;
  /** Absent in a reader-thread instance (`listen` false): it never asks, only reads the disk cache. */
  private readonly channel: BroadcastChannel | undefined;
  private readonly nonce = randomBytes(8).toString("hex");
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  /** Chunks this worker has read from: the fetch thread hears of each once (readahead). */
  private readonly touched: Uint8Array;

  constructor(
    private readonly init: LazyLayerInfo,
    /** The layer's chunk spans (ids as the fetch thread numbers them). */
    private readonly index: LayerIndex,
    /**
     * false for the FUSE reader thread's instance: its event loop does not run while it serves, so
     * it must not subscribe to the channel (messages would pile up unread); it serves `readLocal` only.
     */
    listen = true,
  ) {
    this.inline = new ByteLru(listen ? init.memoryCacheBytes : 0);
    this.touched = new Uint8Array(index.chunkCount);
    if (!listen) return;
    this.channel = new BroadcastChannel(init.channel);
    this.channel.onmessage = (e) => {
      const m = e.data as ChannelMessage;
      if (m.t !== "done" || m.w !== this.nonce) return;
      const waiter = this.waiting.get(m.id);
      if (!waiter) return;
      this.waiting.delete(m.id);
      for (const [id, bytes] of m.inline ?? []) this.inline.set(id, bytes);
      if (m.error) waiter.reject(new Error(m.error));
      else waiter.resolve();
    };
  }

  cachePath(id: number): string {
    const c = this.index.cols;
    return chunkCachePath(this.init.cacheDir, this.init.layerDigest, { offset: c.offset[id], innerOffset: c.innerOffset[id] });
  }

  /**
   * Bytes [from, to) of the file whose chunks (ascending file offsets) are `ids`; every chunk in
   * `ids` overlaps the range. Missing chunks are fetched in one request to the fetch thread.
   */
  async read(ids: number[], from: number, to: number): Promise<Uint8Array> {
    // The reply buffer is taken only once the bytes are there: reads waiting on the network (the
    // kernel's readahead keeps several in flight) must not each hold fresh memory meanwhile.
    const absent = ids.filter((id) => !this.inline.has(id) && !this.onDisk(id));
    const last = ids[ids.length - 1];
    // A miss on the chunk starts the fetch thread's readahead itself, after the chunk's own
    // request: a hint sent first would put the readahead's request ahead of the one this read waits for.
    if (absent.includes(last)) this.touched[last] = 1;
    else this.touch(last);
    if (absent.length) await this.ask(absent);
    const out = this.buffer(to - from);
    let missing = ids.filter((id) => !this.fill(id, from, to, out));
    if (missing.length) {
      await this.ask(missing); // a cache file replaced under us: ask once more
      missing = missing.filter((id) => !this.fill(id, from, to, out));
    }
    if (missing.length) {
      this.release(out);
      throw new Error(`chunk ${missing[0]} of layer ${this.init.layerDigest} was fetched but is neither cached on disk nor in memory`);
    }
    return out;
  }

  /**
   * Bytes [from, to) when every chunk of `ids` is in the disk cache, at once; undefined otherwise,
   * and also when this read should tell the fetch thread about a sequential reader (see touch()),
   * so such reads go to a worker that can.
   */
  readLocal(ids: number[], from: number, to: number): Uint8Array | undefined {
    if (this.hintDue(ids[ids.length - 1])) return undefined;
    const out = this.buffer(to - from);
    for (const id of ids) {
      if (!this.fill(id, from, to, out)) {
        this.release(out);
        return undefined;
      }
    }
    return out;
  }

  /**
   * The cache files holding [from, to) when every chunk of `ids` is on disk (for a spliced reply),
   * else undefined; undefined too when the read should hint the fetch thread (as readLocal).
   */
  localFiles(ids: number[], from: number, to: number): FileSpan[] | undefined {
    if (this.hintDue(ids[ids.length - 1])) return undefined;
    const spans: FileSpan[] = [];
    for (const id of ids) {
      const chunkOffset = this.index.cols.chunkOffset[id];
      const start = Math.max(from, chunkOffset);
      const end = Math.min(to, chunkOffset + this.index.cols.chunkSize[id]);
      if (end <= start) continue;
      if (!this.onDisk(id)) return undefined;
      spans.push({ path: this.cachePath(id), offset: start - chunkOffset, length: end - start });
    }
    return spans;
  }

  private buffer(size: number): Uint8Array {
    if (size > POOLED_BYTES || size < POOLED_FROM) return Buffer.allocUnsafe(size);
    return (this.pool.pop() ?? Buffer.allocUnsafeSlow(POOLED_BYTES)).subarray(0, size);
  }

  /** Takes back a buffer `read` returned, once its bytes were written to the kernel. */
  release(data: Uint8Array): void {
    if (data.buffer.byteLength === POOLED_BYTES && data.byteOffset === 0 && this.pool.length < POOL_MAX) {
      this.pool.push(new Uint8Array(data.buffer, 0, POOLED_BYTES));
    }
  }

  /** Copies the part of chunk `id` inside [from, to) to `out`; false when this worker cannot get it without asking. */
  private fill(id: number, from: number, to: number, out: Uint8Array): boolean {
    const chunkOffset = this.index.cols.chunkOffset[id];
    const start = Math.max(from, chunkOffset);
    const end = Math.min(to, chunkOffset + this.index.cols.chunkSize[id]);
    if (end <= start) return true;
    const mem = this.inline.get(id);
    if (mem) {
      out.set(mem.subarray(start - chunkOffset, end - chunkOffset), start - from);
      return true;
    }
    let fd: number;
    try {
      fd = openSync(this.cachePath(id), "r");
    } catch {
      return false;
    }
    try {
      // Entries are renamed into place whole: a short one is someone else's file, fetched anew.
      for (let at = start; at < end; ) {
        const n = readSync(fd, out, start - from + (at - start), end - at, at - chunkOffset);
        if (n <= 0) return false;
        at += n;
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  /** True when the chunk is in the disk cache (passthrough needs a real file). */
  onDisk(id: number): boolean {
    try {
      return Bun.file(this.cachePath(id)).size === this.index.cols.chunkSize[id];
    } catch {
      return false;
    }
  }

  /**
   * Tells the fetch thread the first time this worker reads from a chunk past a file's first one,
   * unless the next chunk is already on disk: it grows a readahead window over the file for a
   * sequential reader. (Reads served from disk never reach it otherwise.)
   */
  private touch(id: number): void {
    const due = this.hintDue(id);
    this.touched[id] = 1;
    if (due) this.channel?.postMessage({ t: "fetch", w: this.nonce, id: 0, chunks: [id], hint: true } satisfies FetchRequest);
  }

  /** Reading from chunk `id` should start the fetch thread's readahead (first touch, next chunk absent). */
  private hintDue(id: number): boolean {
    if (this.touched[id]) return false;
    const { fileFirst } = this.index.cols;
    const sameFileNext = id + 1 < this.index.chunkCount && fileFirst[id + 1] === fileFirst[id];
    return !(this.init.readaheadChunks === 0 || fileFirst[id] === id || !sameFileNext || this.onDisk(id + 1));
  }

  private ask(chunks: number[]): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const req: FetchRequest = { t: "fetch", w: this.nonce, id, chunks };
      if (!this.channel) return reject(new Error("lazyfs/chunk-client.ts: the reader thread's instance cannot fetch"));
      this.channel.postMessage(req);
    });
  }
}
