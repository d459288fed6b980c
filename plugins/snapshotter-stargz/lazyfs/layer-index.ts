// A lazy layer's inode tree and chunk table as one compact binary index in a SharedArrayBuffer.
//
// A TOC parse thread builds it once per layer from the verified TOC (inode-tree.ts); postMessage
// shares a SharedArrayBuffer instead of copying it, so the main thread and every FUSE handler
// worker of the mount read the same memory. Nothing here is one object per inode: attributes,
// directory entries, names, symlink targets, xattrs and chunk spans are columns of typed arrays
// plus one byte pool, and the handler makes NodeAttr / DirEntry objects when a request asks.
//
// Inode number = index + 1 (the root is inode 1). Regular files point at their chunks, numbered
// exactly as buildChunkTable() numbers them (TOC order), so chunk ids in messages agree with the
// fetch thread's table.

/** Changes whenever the layout below changes. */
const FORMAT = 0x45424c31; // "EBL1"
const HEADER_SLOTS = 8;
const NONE = 0xffffffff;

/** flags bit: directory holds `.wh..wh..opq` (the overlay opaque xattr is reported). */
export const FLAG_OPAQUE = 1;

export interface IndexCounts {
  inodes: number;
  /** Directory entries (a hardlinked file has one per name). */
  edges: number;
  chunks: number;
  xattrs: number;
  poolBytes: number;
}

/** Structured-cloneable handle on a layer index (the buffer is shared, not copied). */
export interface LayerIndexData {
  buffer: SharedArrayBuffer;
}

/** Column order is the memory layout: 8-byte columns first, then 4-byte ones, then the byte pool. */
const F64 = ["size", "mtime"] as const;
const F64_CHUNK = ["chunkOffset", "chunkSize", "offset", "compressedEnd", "innerOffset"] as const;
const U32 = ["mode", "uid", "gid", "nlink", "rdev", "flags", "a0", "a1", "pathOff", "pathLen", "xStart", "xCount"] as const;
const U32_EDGE = ["edgeIno", "edgeNameOff", "edgeNameLen", "byName"] as const;
const U32_CHUNK = ["fileFirst"] as const;
const U32_XATTR = ["xKeyOff", "xKeyLen", "xValOff", "xValLen"] as const;

type Cols<K extends readonly string[], T> = { [P in K[number]]: T };

export type IndexColumns = Cols<typeof F64, Float64Array> &
  Cols<typeof F64_CHUNK, Float64Array> &
  Cols<typeof U32, Uint32Array> &
  Cols<typeof U32_EDGE, Uint32Array> &
  Cols<typeof U32_CHUNK, Uint32Array> &
  Cols<typeof U32_XATTR, Uint32Array> & {
    header: Float64Array;
    pool: Uint8Array;
  };

function layout(n: IndexCounts): { bytes: number; place: (buf: ArrayBufferLike) => IndexColumns } {
  const plan: [string, "f64" | "u32" | "u8", number][] = [
    ...F64.map((k) => [k, "f64", n.inodes] as [string, "f64", number]),
    ...F64_CHUNK.map((k) => [k, "f64", n.chunks] as [string, "f64", number]),
    ...U32.map((k) => [k, "u32", n.inodes] as [string, "u32", number]),
    ...U32_EDGE.map((k) => [k, "u32", n.edges] as [string, "u32", number]),
    ...U32_CHUNK.map((k) => [k, "u32", n.chunks] as [string, "u32", number]),
    ...U32_XATTR.map((k) => [k, "u32", n.xattrs] as [string, "u32", number]),
    ["pool", "u8", n.poolBytes],
  ];
  const at: number[] = [];
  let bytes = HEADER_SLOTS * 8;
  for (const [, kind, count] of plan) {
    at.push(bytes);
    bytes += count * (kind === "f64" ? 8 : kind === "u32" ? 4 : 1);
    bytes = (bytes + 7) & ~7;
  }
  return {
    bytes,
    place(buf) {
      const cols: Record<string, unknown> = { header: new Float64Array(buf, 0, HEADER_SLOTS) };
      plan.forEach(([name, kind, count], i) => {
        cols[name] = kind === "f64" ? new Float64Array(buf, at[i], count) : kind === "u32" ? new Uint32Array(buf, at[i], count) : new Uint8Array(buf, at[i], count);
      });
      return cols as IndexColumns;
    },
  };
}

/**
 * Columns of an index of the given shape (the pool aside) in ordinary memory for the builder to
 * fill; finish() copies them and the pool into the shared buffer. The pool comes last, so its size
 * moves no column.
 */
export function indexBuilder(n: Omit<IndexCounts, "poolBytes">): { cols: Omit<IndexColumns, "pool" | "header">; finish(pool: Uint8Array, totalBytes: number): LayerIndexData } {
  const draft = layout({ ...n, poolBytes: 0 });
  const scratch = new ArrayBuffer(draft.bytes);
  return {
    cols: draft.place(scratch),
    finish(pool, totalBytes) {
      const counts = { ...n, poolBytes: pool.length };
      const l = layout(counts);
      const buffer = new SharedArrayBuffer(l.bytes);
      new Uint8Array(buffer).set(new Uint8Array(scratch));
      const cols = l.place(buffer);
      cols.pool.set(pool);
      cols.header.set([FORMAT, counts.inodes, counts.edges, counts.chunks, counts.xattrs, counts.poolBytes, totalBytes]);
      return { buffer };
    },
  };
}

/** Byte order of UTF-8 names (what lookup's binary search uses). */
export function compareBytes(a: Uint8Array, aOff: number, aLen: number, b: Uint8Array, bOff: number, bLen: number): number {
  const n = Math.min(aLen, bLen);
  for (let i = 0; i < n; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return aLen - bLen;
}

export { NONE as NO_INDEX };

/** Read access to an index: plain numbers in, plain numbers out (`i` is the inode index, ino − 1). */
export class LayerIndex {
  readonly cols: IndexColumns;
  readonly inodeCount: number;
  readonly chunkCount: number;
  /** Sum of all inode sizes (statfs). */
  readonly totalBytes: number;
  private scratch = new Uint8Array(1024);
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();

  constructor(data: LayerIndexData) {
    if (!(data?.buffer instanceof SharedArrayBuffer) || data.buffer.byteLength < HEADER_SLOTS * 8) throw new Error("lazyfs: layer index missing");
    const h = new Float64Array(data.buffer, 0, HEADER_SLOTS);
    if (h[0] !== FORMAT) throw new Error(`lazyfs: layer index has format ${h[0]}, expected ${FORMAT}`);
    const counts: IndexCounts = { inodes: h[1], edges: h[2], chunks: h[3], xattrs: h[4], poolBytes: h[5] };
    const l = layout(counts);
    if (l.bytes !== data.buffer.byteLength) throw new Error(`lazyfs: layer index is ${data.buffer.byteLength} bytes, its header says ${l.bytes}`);
    this.cols = l.place(data.buffer);
    this.inodeCount = counts.inodes;
    this.chunkCount = counts.chunks;
    this.totalBytes = h[6];
  }

  /** Inode index of `ino`, or -1. */
  indexOf(ino: bigint | number): number {
    const i = Number(ino) - 1;
    return i >= 0 && i < this.inodeCount && Number.isInteger(i) ? i : -1;
  }

  isDir(i: number): boolean {
    return (this.cols.mode[i] & 0o170000) === 0o040000;
  }

  /** Bytes of a pool range (a view of the shared buffer: callers copy or only read). */
  bytes(off: number, len: number): Uint8Array {
    return this.cols.pool.subarray(off, off + len);
  }

  text(off: number, len: number): string {
    return this.dec.decode(this.cols.pool.subarray(off, off + len));
  }

  /** Child of directory `i` named `name` (inode index), or -1. Names are sorted per directory. */
  lookup(i: number, name: string): number {
    const { a0, a1, byName, edgeNameOff, edgeNameLen, edgeIno, pool } = this.cols;
    if (name.length * 3 > this.scratch.length) this.scratch = new Uint8Array(name.length * 3);
    const len = this.enc.encodeInto(name, this.scratch).written;
    let lo = a0[i];
    let hi = a0[i] + a1[i] - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const e = byName[mid];
      const c = compareBytes(pool, edgeNameOff[e], edgeNameLen[e], this.scratch, 0, len);
      if (c === 0) return edgeIno[e];
      if (c < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** Directory entries of `i` in TOC order: [name, child inode index]. */
  entries(i: number): [string, number][] {
    const { a0, a1, edgeNameOff, edgeNameLen, edgeIno } = this.cols;
    const out: [string, number][] = [];
    for (let e = a0[i]; e < a0[i] + a1[i]; e++) out.push([this.text(edgeNameOff[e], edgeNameLen[e]), edgeIno[e]]);
    return out;
  }

  /** Stored xattrs of inode `i` (the opaque marker is not one: see FLAG_OPAQUE). */
  xattrs(i: number): [string, Uint8Array][] {
    const { xStart, xCount, xKeyOff, xKeyLen, xValOff, xValLen } = this.cols;
    const out: [string, Uint8Array][] = [];
    for (let x = xStart[i]; x < xStart[i] + xCount[i]; x++) out.push([this.text(xKeyOff[x], xKeyLen[x]), this.bytes(xValOff[x], xValLen[x])]);
    return out;
  }

  /** Index of the chunk of regular file `i` holding file offset `pos` (chunks sorted by offset). */
  chunkAt(i: number, pos: number): number {
    const { a0, a1, chunkOffset } = this.cols;
    let lo = a0[i];
    let hi = a0[i] + a1[i] - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (chunkOffset[mid] <= pos) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}
