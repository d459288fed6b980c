// The lazy layer filesystem: the fs module each FUSE handler worker loads (see fuse/types.ts).
// Metadata comes from the TOC handed over at mount; file data from verified chunks (chunk-client.ts).
import { Errno, S_IFMT, S_IFREG } from "../fuse/abi.ts";
import { FsError, type DirEntry, type NodeAttr, type ReadOnlyFs } from "../fuse/types.ts";
import { ChunkClient } from "./chunk-client.ts";
import { buildChunkTable, chunkAt, fileCachePath, type ChunkTable } from "./chunks.ts";
import { buildInodeTree, type Inode } from "./inode-tree.ts";
import type { LazyFsInit, LazyLayerInfo } from "./protocol.ts";
import { tocFromWire } from "../toc-wire.ts";

class LazyFs implements ReadOnlyFs {
  private readonly inodes: Map<bigint, Inode>;
  private readonly table: ChunkTable;
  private readonly chunks: ChunkClient;
  private readonly blocks: number;

  private readonly init: LazyLayerInfo;

  constructor(init: LazyFsInit) {
    // Keep neither the TOC JSON nor what only the fetch thread needs (digests, owner names): the
    // tree lives in every worker for the mount's lifetime.
    const { toc: wire, ...info } = init;
    this.init = info;
    const toc = tocFromWire(wire);
    for (const f of toc.files) {
      f.digest = undefined;
      f.userName = f.groupName = "";
      for (const c of f.chunks) c.chunkDigest = undefined;
    }
    this.inodes = buildInodeTree(toc, init.overlayXattrPrefix);
    this.table = buildChunkTable(toc);
    this.chunks = new ChunkClient(init, this.table);
    let bytes = 0;
    for (const n of this.inodes.values()) bytes += n.attr.size;
    this.blocks = Math.ceil(bytes / 4096);
  }

  private node(ino: bigint): Inode {
    const n = this.inodes.get(ino);
    if (!n) throw new FsError(Errno.ENOENT, `no inode ${ino}`);
    return n;
  }

  root(): NodeAttr {
    return this.node(1n).attr;
  }

  lookup(parentIno: bigint, name: string): NodeAttr | undefined {
    const p = this.node(parentIno);
    if (!p.children) throw new FsError(Errno.ENOTDIR);
    const ino = p.children.get(name);
    return ino === undefined ? undefined : this.node(ino).attr;
  }

  getattr(ino: bigint): NodeAttr {
    return this.node(ino).attr;
  }

  readlink(ino: bigint): Uint8Array {
    const n = this.node(ino);
    if (!n.target) throw new FsError(Errno.EINVAL);
    return n.target;
  }

  readdir(ino: bigint): readonly DirEntry[] {
    const n = this.node(ino);
    if (!n.list) throw new FsError(Errno.ENOTDIR);
    return n.list;
  }

  async read(ino: bigint, offset: number, size: number): Promise<Uint8Array> {
    const n = this.node(ino);
    if ((n.attr.mode & S_IFMT) !== S_IFREG) throw new FsError(Errno.EISDIR);
    const end = Math.min(n.attr.size, offset + size);
    if (!n.file || offset >= end) return new Uint8Array(0);
    const ids = this.table.byFile.get(n.file.name)!;
    const first = chunkAt(this.table, ids, offset);
    const last = chunkAt(this.table, ids, end - 1);
    try {
      return await this.chunks.read(ids.slice(first, last + 1), offset, end);
    } catch (e) {
      // The main thread already logged the cause with the layer digest and file name.
      throw new FsError(Errno.EIO, `${this.init.layerDigest} ${n.file.name}: ${(e as Error).message}`);
    }
  }

  readDone(data: Uint8Array): void {
    this.chunks.release(data);
  }

  getxattr(ino: bigint, name: string): Uint8Array | undefined {
    return this.node(ino).xattrs.get(name);
  }

  listxattr(ino: bigint): readonly string[] {
    return [...this.node(ino).xattrs.keys()];
  }

  pathOf(ino: bigint): string | undefined {
    return this.inodes.get(ino)?.name;
  }

  backingFile(ino: bigint): { path: string } | undefined {
    if (!this.init.passthrough) return undefined;
    const f = this.inodes.get(ino)?.file;
    const ids = f && this.table.byFile.get(f.name);
    if (!ids) return undefined;
    // A single chunk's cache file holds exactly the file; bigger files get a whole copy once complete.
    if (ids.length === 1) return this.chunks.onDisk(ids[0]) ? { path: this.chunks.cachePath(ids[0]) } : undefined;
    const whole = fileCachePath(this.init.cacheDir, this.init.layerDigest, this.table.chunks[ids[0]]);
    return Bun.file(whole).size === f.size ? { path: whole } : undefined;
  }

  statfs() {
    return { blocks: this.blocks, files: this.inodes.size, bsize: 4096, namelen: 255 };
  }
}

export function createFs(init: unknown): ReadOnlyFs {
  return new LazyFs(init as LazyFsInit);
}

export default createFs;

// The same file is the entry of the fetch thread and of the decoder threads (fetch-thread.ts
// explains why): start the right service when the main thread says so. FUSE handler workers never
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
