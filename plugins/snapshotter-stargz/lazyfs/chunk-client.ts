// Worker side of chunk access: memory LRU, then the shared disk cache, then ask the main thread
// (which fetches, verifies and caches) and read the result back from disk.
import { readFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { chunkCachePath, type ChunkTable } from "./chunks.ts";
import { ByteLru } from "./lru.ts";
import type { ChannelMessage, FetchRequest, LazyFsInit } from "./protocol.ts";

export class ChunkClient {
  private readonly lru: ByteLru<number>;
  private readonly channel: BroadcastChannel;
  private readonly nonce = randomBytes(8).toString("hex");
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();

  constructor(
    private readonly init: LazyFsInit,
    private readonly table: ChunkTable,
  ) {
    this.lru = new ByteLru(init.memoryCacheBytes);
    this.channel = new BroadcastChannel(init.channel);
    this.channel.onmessage = (e) => {
      const m = e.data as ChannelMessage;
      if (m.t !== "done" || m.w !== this.nonce) return;
      const waiter = this.waiting.get(m.id);
      if (!waiter) return;
      this.waiting.delete(m.id);
      for (const [id, bytes] of m.inline ?? []) this.lru.set(id, bytes);
      if (m.error) waiter.reject(new Error(m.error));
      else waiter.resolve();
    };
  }

  cachePath(id: number): string {
    return chunkCachePath(this.init.cacheDir, this.init.layerDigest, this.table.chunks[id]);
  }

  /** Verified bytes of a chunk if this worker can get them without asking (memory or disk). */
  private local(id: number): Uint8Array | undefined {
    const hit = this.lru.get(id);
    if (hit) return hit;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(this.cachePath(id));
    } catch {
      return undefined;
    }
    // Entries are renamed into place whole; a wrong length means someone else's file: ignore it.
    if (bytes.length !== this.table.chunks[id].chunkSize) return undefined;
    this.lru.set(id, bytes);
    return bytes;
  }

  /** Bytes of each chunk in `ids`, fetching the missing ones in one request to the fetch thread. */
  async get(ids: number[]): Promise<Uint8Array[]> {
    const last = ids[ids.length - 1];
    const firstTouch = !this.lru.has(last);
    const out: (Uint8Array | undefined)[] = ids.map((id) => this.local(id));
    if (firstTouch) this.readAhead(last);
    const missing = ids.filter((_, i) => !out[i]);
    if (missing.length === 0) return out as Uint8Array[];
    await this.ask(missing);
    return ids.map((id, i) => {
      const got = out[i] ?? this.local(id);
      if (!got) throw new Error(`chunk ${id} of layer ${this.init.layerDigest} was fetched but is neither cached on disk nor in memory`);
      return got;
    });
  }

  /** True when the chunk is in the disk cache (passthrough needs a real file). */
  onDisk(id: number): boolean {
    try {
      return Bun.file(this.cachePath(id)).size === this.table.chunks[id].chunkSize;
    } catch {
      return false;
    }
  }

  /**
   * A reader that moved on from the previous chunk of the same file is reading sequentially: ask
   * for the next chunks now, so they arrive while this one is consumed. (Chunks already on disk
   * never reach the fetch thread, so it cannot see the pattern itself.)
   */
  private readAhead(id: number): void {
    const n = this.init.readaheadChunks;
    const c = this.table.chunks[id];
    const prev = this.table.chunks[id - 1];
    if (n === 0 || c.index === 0 || prev?.file !== c.file || !this.lru.has(prev.id)) return;
    const ahead: number[] = [];
    for (let next = id + 1; next <= id + n && this.table.chunks[next]?.file === c.file; next++) {
      if (!this.lru.has(next) && !this.onDisk(next)) ahead.push(next);
    }
    if (ahead.length) this.channel.postMessage({ t: "fetch", w: this.nonce, id: 0, chunks: ahead, hint: true } satisfies FetchRequest);
  }

  private ask(chunks: number[]): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      const req: FetchRequest = { t: "fetch", w: this.nonce, id, chunks };
      this.channel.postMessage(req);
    });
  }
}
