// The verified-chunk cache shared by every mount and surviving restarts: one file per chunk under
// `<plugin root>/cache/<layer>/`, written to a temp name and renamed, so a reader (any worker, any
// process) sees a whole chunk or none. Only bytes that passed their chunkDigest are written. When
// the disk is full it falls back to memory (the LRU in front) with one warning.
import { closeSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname } from "node:path";
import { chunkCachePath, layerCacheDir, type ChunkRef } from "./lazyfs/chunks.ts";
import { ByteLru } from "./lazyfs/lru.ts";

const DISK_FULL = new Set(["ENOSPC", "EDQUOT"]);

/**
 * Writes one verified chunk as a cache entry: a temp name, then rename, so readers see all of it
 * or nothing. Creates the layer directory when missing. Throws the fs error (code kept).
 */
export function writeChunkFile(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${randomBytes(6).toString("hex")}`;
  try {
    try {
      writeFileSync(tmp, bytes);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(tmp, bytes);
    }
    renameSync(tmp, path);
  } catch (e) {
    removeQuietly(tmp);
    throw e;
  }
}

export class ChunkCache {
  private readonly memory: ByteLru<string>;
  memoryOnly = false;

  constructor(
    readonly dir: string,
    private readonly log: (m: string) => void,
    memoryBytes = 128 << 20,
  ) {
    mkdirSync(dir, { recursive: true });
    this.memory = new ByteLru(memoryBytes);
  }

  private key(layer: string, c: ChunkRef): string {
    return `${layer}/${c.offset}-${c.innerOffset}`;
  }

  path(layer: string, c: ChunkRef): string {
    return chunkCachePath(this.dir, layer, c);
  }

  has(layer: string, c: ChunkRef): boolean {
    if (this.memory.has(this.key(layer, c))) return true;
    return statSync(this.path(layer, c), { throwIfNoEntry: false })?.size === c.chunkSize;
  }

  /** Whether any chunk of `layer` is on disk (one listing; memory-only chunks are not looked at). */
  holdsAny(layer: string): boolean {
    try {
      return readdirSync(layerCacheDir(this.dir, layer)).length > 0;
    } catch {
      return false;
    }
  }

  /**
   * The chunks of `chunks` cached for `layer`, found with one listing of the layer's directory and
   * a stat only of the files it lists: at mount a fetcher checks every chunk of its layer (13.7k
   * for the Go toolchain layer: 40-60 ms of stats, nearly all of them misses on a cold cache).
   */
  cachedAmong(layer: string, chunks: Iterable<ChunkRef>): ChunkRef[] {
    let names: Set<string>;
    try {
      names = new Set(readdirSync(layerCacheDir(this.dir, layer)));
    } catch {
      names = new Set();
    }
    const out: ChunkRef[] = [];
    for (const c of chunks) {
      if (this.memory.has(this.key(layer, c)) || (names.has(basename(this.path(layer, c))) && this.has(layer, c))) out.push(c);
    }
    return out;
  }

  /** Bytes held in memory only (memory-only mode), for inline replies. */
  memoryBytes(layer: string, c: ChunkRef): Uint8Array | undefined {
    return this.memory.get(this.key(layer, c));
  }

  /** Stores verified bytes. Returns false when they are kept in memory only. */
  put(layer: string, c: ChunkRef, bytes: Uint8Array): boolean {
    if (!this.memoryOnly) {
      const path = this.path(layer, c);
      try {
        writeChunkFile(path, bytes);
        return true;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code ?? "";
        if (!DISK_FULL.has(code)) throw new Error(`stargz cache: cannot write ${path}: ${(e as Error).message}`);
        if (!this.memoryOnly) this.log(`stargz cache: ${this.dir} is full (${code}); keeping fetched chunks in memory only from now on`);
        this.memoryOnly = true;
      }
    }
    this.memory.set(this.key(layer, c), bytes);
    return false;
  }

  /**
   * Writes the whole file (temp + rename) from its cached chunks, for FUSE passthrough. Skipped in
   * memory-only mode; failures only cost the passthrough, so they are logged, not thrown.
   */
  assemble(layer: string, chunks: ChunkRef[], dest: string): void {
    if (this.memoryOnly) return;
    const tmp = `${dest}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      const fd = openSync(tmp, "w");
      try {
        // Through one reused buffer: a fresh one per chunk (readFileSync) faults in every page
        // (a 200 MiB file: ~0.5 s of this thread here, vs ~0.1 s).
        const largest = Math.max(...chunks.map((c) => c.chunkSize));
        if (copyBuffer.byteLength < largest) copyBuffer = Buffer.allocUnsafeSlow(largest);
        for (const c of chunks) copyChunk(this.path(layer, c), fd, c, copyBuffer);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, dest);
    } catch (e) {
      removeQuietly(tmp);
      this.log(`stargz cache: cannot assemble ${dest} for passthrough: ${(e as Error).message}`);
    }
  }

  /** Drops a layer's cached chunks (e.g. when the layer is removed for good). */
  dropLayer(layer: string): void {
    rmSync(layerCacheDir(this.dir, layer), { recursive: true, force: true });
  }
}

/** The buffer assemble() copies chunks through (the fetch thread's; kept for the next file). */
let copyBuffer = Buffer.allocUnsafeSlow(0);

/** Copies one cached chunk to its place in the whole file `fd`; throws when the entry is short. */
function copyChunk(path: string, fd: number, c: ChunkRef, buf: Uint8Array): void {
  const src = openSync(path, "r");
  try {
    let n = 0;
    while (n < c.chunkSize) {
      const got = readSync(src, buf, n, c.chunkSize - n, n);
      if (got <= 0) throw new Error(`${path}: ${n} bytes, the chunk has ${c.chunkSize}`);
      n += got;
    }
    for (let at = 0; at < n; ) at += writeSync(fd, buf, at, n - at, c.chunkOffset + at);
  } finally {
    closeSync(src);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // never created
  }
}
