// The metadata half of the lazy layer filesystem, straight off the shared layer index: attribute
// and directory-entry objects are made per request, nothing per inode is kept. fs.ts adds reads.
import { Errno } from "../fuse/abi.ts";
import { FsError, type DirEntry, type NodeAttr, type ReadOnlyFs } from "../fuse/types.ts";
import { FLAG_OPAQUE, LayerIndex, type LayerIndexData } from "./layer-index.ts";
import { growthCheck } from "../heap-trim.ts";

/** Directory listings kept: READDIR asks for one listing in pieces, one request per piece. */
const LISTINGS_KEPT = 8;
const Y = new Uint8Array([0x79]);

export class IndexFs implements Omit<ReadOnlyFs, "read"> {
  protected readonly index: LayerIndex;
  private readonly opaqueKey: string;
  private readonly listings = new Map<number, DirEntry[]>();
  /** Every request passes here, also on the FUSE reader thread, whose event loop never turns while
   *  it serves: its dead buffers (copied requests, replies) are collected once the heap grew 4 MB,
   *  at most once a second (heap-trim.ts). A full collection stalls every request behind it: every
   *  250 ms cost the lazy Go build's RUN 0.3-0.4 s; once a second costs nothing measurable and
   *  keeps ~10 MB off the peak RSS (147-153 MB vs 161-164 MB). */
  private readonly trim = growthCheck(4 << 20, 1000);

  constructor(data: LayerIndexData, xattrPrefix: "trusted" | "user") {
    this.index = new LayerIndex(data);
    this.opaqueKey = `${xattrPrefix}.overlay.opaque`;
  }

  /** Inode index of `ino`; ENOENT for inodes the layer does not have. */
  protected at(ino: bigint | number): number {
    this.trim();
    const i = this.index.indexOf(ino);
    if (i < 0) throw new FsError(Errno.ENOENT, `no inode ${ino}`);
    return i;
  }

  protected attr(i: number): NodeAttr {
    const c = this.index.cols;
    return { ino: BigInt(i + 1), mode: c.mode[i], nlink: c.nlink[i], uid: c.uid[i], gid: c.gid[i], size: c.size[i], mtimeSec: c.mtime[i], mtimeNsec: 0, rdev: c.rdev[i] };
  }

  root(): NodeAttr {
    return this.attr(0);
  }

  lookup(parentIno: bigint, name: string): NodeAttr | undefined {
    const p = this.at(parentIno);
    if (!this.index.isDir(p)) throw new FsError(Errno.ENOTDIR);
    const child = this.index.lookup(p, name);
    return child < 0 ? undefined : this.attr(child);
  }

  getattr(ino: bigint): NodeAttr {
    return this.attr(this.at(ino));
  }

  readlink(ino: bigint): Uint8Array {
    const i = this.at(ino);
    const c = this.index.cols;
    if ((c.mode[i] & 0o170000) !== 0o120000) throw new FsError(Errno.EINVAL);
    return this.index.bytes(c.a0[i], c.a1[i]);
  }

  readdir(ino: bigint): readonly DirEntry[] {
    const i = this.at(ino);
    if (!this.index.isDir(i)) throw new FsError(Errno.ENOTDIR);
    let list = this.listings.get(i);
    if (list) {
      this.listings.delete(i); // most recently used last
    } else {
      const mode = this.index.cols.mode;
      list = this.index.entries(i).map(([name, child]) => ({ name, ino: BigInt(child + 1), mode: mode[child] }));
      if (this.listings.size >= LISTINGS_KEPT) this.listings.delete(this.listings.keys().next().value!);
    }
    this.listings.set(i, list);
    return list;
  }

  private opaque(i: number): boolean {
    return (this.index.cols.flags[i] & FLAG_OPAQUE) !== 0;
  }

  getxattr(ino: bigint, name: string): Uint8Array | undefined {
    const i = this.at(ino);
    if (name === this.opaqueKey && this.opaque(i)) return Y;
    return this.index.xattrs(i).find(([k]) => k === name)?.[1];
  }

  listxattr(ino: bigint): readonly string[] {
    const i = this.at(ino);
    const keys = this.index.xattrs(i).map(([k]) => k);
    if (this.opaque(i) && !keys.includes(this.opaqueKey)) keys.push(this.opaqueKey);
    return keys;
  }

  pathOf(ino: bigint): string | undefined {
    const i = this.index.indexOf(ino);
    return i < 0 ? undefined : this.index.text(this.index.cols.pathOff[i], this.index.cols.pathLen[i]);
  }

  statfs() {
    return { blocks: Math.ceil(this.index.totalBytes / 4096), files: this.index.inodeCount, bsize: 4096, namelen: 255 };
  }
}
