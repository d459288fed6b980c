// A layer's TOC as an inode tree, presented the way overlayfs expects a lower layer: `.wh.NAME`
// becomes NAME as a 0:0 character device, `.wh..wh..opq` marks its directory opaque (reported as
// the overlay opaque xattr), landmarks and the TOC entry are hidden. Hardlinks share one inode.
// Built once per layer, in a TOC parse thread (toc-parse.ts), into the shared binary index of
// layer-index.ts.
import { buildTree, resolveHardlink, type ParsedToc, type TocFile } from "../estargz/index.ts";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from "../estargz/constants.ts";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from "../fuse/abi.ts";
import { compareBytes, FLAG_OPAQUE, indexBuilder, type LayerIndexData } from "./layer-index.ts";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
const HIDDEN_IN_ROOT = new Set([PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK, TOC_TAR_NAME]);

const TYPE_BITS: Record<string, number> = { dir: S_IFDIR, reg: S_IFREG, symlink: S_IFLNK, char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO };

/** Linux new_encode_dev, as stat(2) reports st_rdev. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}

/** One inode while building: the entry owning it, or a whiteout (a name and the marker's mtime). */
interface Node {
  owner?: TocFile;
  whiteout?: { path: string; mtime: number };
  nlink: number;
  opaque: boolean;
  /** Directories: [base name, child inode index] in TOC order (whiteouts last). */
  children?: [string, number][];
}

/** UTF-8 bytes appended to one growing buffer; each add returns its offset. */
class BytePool {
  buf = Buffer.allocUnsafe(1 << 16);
  len = 0;

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
  }

  text(s: string): number {
    this.room(s.length * 3);
    const off = this.len;
    this.len += this.buf.write(s, off);
    return off;
  }

  bytes(b: Uint8Array): number {
    this.room(b.length);
    const off = this.len;
    this.buf.set(b, off);
    this.len += b.length;
    return off;
  }
}

/** Builds the layer's index. Chunk ids follow buildChunkTable(toc) (chunks.ts): TOC order. */
export function buildLayerIndex(toc: ParsedToc): LayerIndexData {
  const tree = buildTree(toc.files);
  const nodes: Node[] = [];
  const byOwner = new Map<TocFile, number>();

  const nodeFor = (f: TocFile): number => {
    const owner = f.type === "hardlink" ? resolveHardlink(toc, f) : f;
    const known = byOwner.get(owner);
    if (known !== undefined) {
      nodes[known].nlink++;
      return known;
    }
    byOwner.set(owner, nodes.length);
    nodes.push({ owner, nlink: 1, opaque: false });
    return nodes.length - 1;
  };

  // Directories first, depth-first from the root, so the root is inode 1.
  const visitDir = (dir: TocFile): number => {
    const i = nodeFor(dir);
    const node = nodes[i];
    node.nlink = 2;
    const children: [string, number][] = [];
    const names = new Set<string>();
    const whiteouts: [string, TocFile][] = [];
    for (const [base, f] of tree.children.get(dir.name) ?? []) {
      if (dir.name === "" && HIDDEN_IN_ROOT.has(base)) continue;
      if (base === OPAQUE_MARKER) {
        node.opaque = true;
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        whiteouts.push([base.slice(WHITEOUT_PREFIX.length), f]);
        continue;
      }
      names.add(base);
      if (f.type === "dir") {
        children.push([base, visitDir(f)]);
        node.nlink++;
      } else children.push([base, nodeFor(f)]);
    }
    for (const [hidden, f] of whiteouts) {
      if (!hidden || names.has(hidden)) continue;
      names.add(hidden);
      nodes.push({ whiteout: { path: dir.name ? `${dir.name}/${hidden}` : hidden, mtime: f.mtime ?? 0 }, nlink: 1, opaque: false });
      children.push([hidden, nodes.length - 1]);
    }
    node.children = children;
    return i;
  };
  visitDir(tree.byName.get("")!);

  let chunkCount = 0;
  for (const f of toc.files) if (f.type === "reg") chunkCount += f.chunks.length;
  let edgeCount = 0;
  let xattrCount = 0;
  for (const n of nodes) {
    edgeCount += n.children?.length ?? 0;
    if (n.owner) for (const _ in n.owner.xattrs) xattrCount++;
  }
  const b = indexBuilder({ inodes: nodes.length, edges: edgeCount, chunks: chunkCount, xattrs: xattrCount });
  const cols = b.cols;
  const pool = new BytePool();
  let totalBytes = 0;
  let xattr = 0;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i];
    const f = n.owner;
    cols.pathOff[i] = pool.text(f?.name ?? n.whiteout!.path);
    cols.pathLen[i] = pool.len - cols.pathOff[i];
    cols.nlink[i] = n.nlink;
    cols.flags[i] = n.opaque ? FLAG_OPAQUE : 0;
    cols.xStart[i] = xattr;
    if (!f) {
      cols.mode[i] = S_IFCHR;
      cols.mtime[i] = n.whiteout!.mtime;
      continue;
    }
    // Linux shows every symlink as 0777, whatever the tar header says.
    cols.mode[i] = TYPE_BITS[f.type] | (f.type === "symlink" ? 0o777 : f.mode);
    cols.uid[i] = f.uid;
    cols.gid[i] = f.gid;
    cols.mtime[i] = f.mtime ?? 0;
    cols.rdev[i] = f.type === "char" || f.type === "block" ? makedev(f.devMajor, f.devMinor) : 0;
    if (f.type === "reg") cols.size[i] = f.size;
    if (f.type === "symlink") {
      cols.a0[i] = pool.text(f.linkName);
      cols.a1[i] = cols.size[i] = pool.len - cols.a0[i];
    }
    totalBytes += cols.size[i];
    for (const k in f.xattrs) {
      cols.xKeyOff[xattr] = pool.text(k);
      cols.xKeyLen[xattr] = pool.len - cols.xKeyOff[xattr];
      cols.xValOff[xattr] = pool.bytes(f.xattrs[k]);
      cols.xValLen[xattr] = f.xattrs[k].length;
      xattr++;
    }
    cols.xCount[i] = xattr - cols.xStart[i];
  }

  let edge = 0;
  const order: number[] = [];
  for (let i = 0; i < nodes.length; i++) {
    const kids = nodes[i].children;
    if (!kids) continue;
    cols.a0[i] = edge;
    cols.a1[i] = kids.length;
    order.length = 0;
    for (const [base, child] of kids) {
      cols.edgeIno[edge] = child;
      // A name is usually the last component of its inode's path (not for whiteouts and most
      // hardlinks): the pool then holds it once.
      const c = nodes[child].owner?.name;
      if (c !== undefined && (c === base || (c.endsWith(base) && c.charCodeAt(c.length - base.length - 1) === 0x2f))) {
        const len = Buffer.byteLength(base);
        cols.edgeNameOff[edge] = cols.pathOff[child] + cols.pathLen[child] - len;
        cols.edgeNameLen[edge] = len;
      } else {
        cols.edgeNameOff[edge] = pool.text(base);
        cols.edgeNameLen[edge] = pool.len - cols.edgeNameOff[edge];
      }
      order.push(edge++);
    }
    const p = pool.buf;
    const { edgeNameOff: off, edgeNameLen: len } = cols;
    order.sort((x, y) => compareBytes(p, off[x], len[x], p, off[y], len[y]));
    cols.byName.set(order, cols.a0[i]);
  }

  // Chunks exactly as buildChunkTable numbers them, hidden files' included.
  let id = 0;
  for (const f of toc.files) {
    if (f.type !== "reg" || f.chunks.length === 0) continue;
    const first = id;
    for (const c of f.chunks) {
      cols.fileFirst[id] = first;
      cols.chunkOffset[id] = c.chunkOffset;
      cols.chunkSize[id] = c.chunkSize;
      cols.offset[id] = c.offset;
      cols.compressedEnd[id] = c.compressedEnd;
      cols.innerOffset[id] = c.innerOffset;
      id++;
    }
    const i = byOwner.get(f);
    if (i !== undefined) {
      cols.a0[i] = first;
      cols.a1[i] = f.chunks.length;
    }
  }
  return b.finish(pool.buf.subarray(0, pool.len), totalBytes);
}
