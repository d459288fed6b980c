// A layer's TOC as an inode tree, presented the way overlayfs expects a lower layer: `.wh.NAME`
// becomes NAME as a 0:0 character device, `.wh..wh..opq` marks its directory opaque (reported as
// the overlay opaque xattr), landmarks and the TOC entry are hidden. Hardlinks share one inode.
// Built once per layer, in the fetch thread, into the shared binary index of layer-index.ts.
import { buildTree, resolveHardlink, type ParsedToc, type TocFile } from "../estargz/index.ts";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from "../estargz/constants.ts";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from "../fuse/abi.ts";
import { allocateIndex, compareBytes, FLAG_OPAQUE, type LayerIndexData } from "./layer-index.ts";

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

/** UTF-8 bytes appended to one growing buffer; ranges are [offset, length]. */
class BytePool {
  buf = new Uint8Array(1 << 16);
  len = 0;
  private readonly enc = new TextEncoder();

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + n));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  text(s: string): [number, number] {
    this.room(s.length * 3);
    const off = this.len;
    this.len += this.enc.encodeInto(s, this.buf.subarray(off)).written;
    return [off, this.len - off];
  }

  bytes(b: Uint8Array): [number, number] {
    this.room(b.length);
    const off = this.len;
    this.buf.set(b, off);
    this.len += b.length;
    return [off, b.length];
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

  const pool = new BytePool();
  const path: [number, number][] = [];
  const target: [number, number][] = [];
  const xattrs: [number, number, number, number][][] = [];
  for (const n of nodes) {
    path.push(pool.text(n.owner?.name ?? n.whiteout!.path));
    target.push(n.owner?.type === "symlink" ? pool.text(n.owner.linkName) : [0, 0]);
    xattrs.push(Object.entries(n.owner?.xattrs ?? {}).map(([k, v]) => [...pool.text(k), ...pool.bytes(v)]));
  }
  // An entry's name is the end of its inode's path when the inode is that entry (not a hardlink
  // or whiteout): the pool holds it once.
  const edgeNames: [number, number][][] = nodes.map((n, i) => {
    if (!n.children) return [];
    const dirName = n.owner!.name;
    return n.children.map(([base, child]) => {
      const c = nodes[child];
      if (c.owner && c.owner.name === (dirName ? `${dirName}/${base}` : base)) {
        const len = Buffer.byteLength(base);
        return [path[child][0] + path[child][1] - len, len];
      }
      return pool.text(base);
    });
  });

  let chunkCount = 0;
  for (const f of toc.files) if (f.type === "reg") chunkCount += f.chunks.length;
  const edgeCount = nodes.reduce((s, n) => s + (n.children?.length ?? 0), 0);
  const xattrCount = xattrs.reduce((s, x) => s + x.length, 0);
  const sizeOf = (n: Node, i: number) => (n.owner?.type === "reg" ? n.owner.size : n.owner?.type === "symlink" ? target[i][1] : 0);
  const totalBytes = nodes.reduce((s, n, i) => s + sizeOf(n, i), 0);
  const { data, cols } = allocateIndex({ inodes: nodes.length, edges: edgeCount, chunks: chunkCount, xattrs: xattrCount, poolBytes: pool.len }, totalBytes);
  cols.pool.set(pool.buf.subarray(0, pool.len));

  let edge = 0;
  let xattr = 0;
  nodes.forEach((n, i) => {
    const f = n.owner;
    // Linux shows every symlink as 0777, whatever the tar header says.
    cols.mode[i] = f ? TYPE_BITS[f.type] | (f.type === "symlink" ? 0o777 : f.mode) : S_IFCHR;
    cols.uid[i] = f?.uid ?? 0;
    cols.gid[i] = f?.gid ?? 0;
    cols.nlink[i] = n.nlink;
    cols.size[i] = sizeOf(n, i);
    cols.mtime[i] = f ? (f.mtime ?? 0) : n.whiteout!.mtime;
    cols.rdev[i] = f && (f.type === "char" || f.type === "block") ? makedev(f.devMajor, f.devMinor) : 0;
    cols.flags[i] = n.opaque ? FLAG_OPAQUE : 0;
    [cols.pathOff[i], cols.pathLen[i]] = path[i];
    cols.xStart[i] = xattr;
    cols.xCount[i] = xattrs[i].length;
    for (const [ko, kl, vo, vl] of xattrs[i]) {
      cols.xKeyOff[xattr] = ko;
      cols.xKeyLen[xattr] = kl;
      cols.xValOff[xattr] = vo;
      cols.xValLen[xattr] = vl;
      xattr++;
    }
    if (f?.type === "symlink") [cols.a0[i], cols.a1[i]] = target[i];
    if (n.children) {
      cols.a0[i] = edge;
      cols.a1[i] = n.children.length;
      const start = edge;
      n.children.forEach(([, child], k) => {
        cols.edgeIno[edge] = child;
        [cols.edgeNameOff[edge], cols.edgeNameLen[edge]] = edgeNames[i][k];
        edge++;
      });
      const order = Array.from({ length: n.children.length }, (_, k) => start + k);
      const p = cols.pool;
      order.sort((a, b) => compareBytes(p, cols.edgeNameOff[a], cols.edgeNameLen[a], p, cols.edgeNameOff[b], cols.edgeNameLen[b]));
      cols.byName.set(order, start);
    }
  });

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
  return data;
}
