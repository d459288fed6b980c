// A layer's TOC as an inode tree, presented the way overlayfs expects a lower layer: `.wh.NAME`
// becomes NAME as a 0:0 character device, `.wh..wh..opq` becomes the opaque xattr on its
// directory, landmarks and the TOC entry are hidden. Hardlinks share one inode.
import { buildTree, resolveHardlink, type ParsedToc, type TocFile } from "../estargz/index.ts";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from "../estargz/constants.ts";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG } from "../fuse/abi.ts";
import type { DirEntry, NodeAttr } from "../fuse/types.ts";

export const WHITEOUT_PREFIX = ".wh.";
export const OPAQUE_MARKER = ".wh..wh..opq";
const HIDDEN_IN_ROOT = new Set([PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK, TOC_TAR_NAME]);

export interface Inode {
  attr: NodeAttr;
  /** Name in the layer (TOC form, "" for the root) of the first link; the data owner for files. */
  name: string;
  /** Regular files: the entry owning the data. */
  file?: TocFile;
  children?: Map<string, bigint>;
  list?: DirEntry[];
  target?: Uint8Array;
  xattrs: ReadonlyMap<string, Uint8Array>;
}

const TYPE_BITS: Record<string, number> = { dir: S_IFDIR, reg: S_IFREG, symlink: S_IFLNK, char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO };

/** Linux new_encode_dev, as stat(2) reports st_rdev. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12);
}

const enc = new TextEncoder();
const NO_XATTRS: ReadonlyMap<string, Uint8Array> = new Map();

export function buildInodeTree(toc: ParsedToc, xattrPrefix: "trusted" | "user"): Map<bigint, Inode> {
  const tree = buildTree(toc.files);
  const inodes = new Map<bigint, Inode>();
  const byOwner = new Map<TocFile, bigint>();
  let next = 1n;

  const attrOf = (f: TocFile, ino: bigint): NodeAttr => ({
    ino,
    // Linux shows every symlink as 0777, whatever the tar header says.
    mode: TYPE_BITS[f.type] | (f.type === "symlink" ? 0o777 : f.mode),
    nlink: 1,
    uid: f.uid,
    gid: f.gid,
    size: f.type === "reg" ? f.size : f.type === "symlink" ? enc.encode(f.linkName).length : 0,
    mtimeSec: f.mtime ?? 0,
    mtimeNsec: 0,
    rdev: f.type === "char" || f.type === "block" ? makedev(f.devMajor, f.devMinor) : 0,
  });

  const nodeFor = (f: TocFile): bigint => {
    const owner = f.type === "hardlink" ? resolveHardlink(toc, f) : f;
    const known = byOwner.get(owner);
    if (known !== undefined) {
      inodes.get(known)!.attr.nlink++;
      return known;
    }
    const ino = next++;
    const x = Object.entries(owner.xattrs);
    // Most entries have no xattrs: they share one empty map (an opaque dir gets a map of its own).
    const node: Inode = { attr: attrOf(owner, ino), name: owner.name, xattrs: x.length ? new Map(x) : NO_XATTRS };
    if (owner.type === "reg") node.file = owner;
    if (owner.type === "symlink") node.target = enc.encode(owner.linkName);
    inodes.set(ino, node);
    byOwner.set(owner, ino);
    return ino;
  };

  const whiteout = (name: string, like: TocFile): bigint => {
    const ino = next++;
    inodes.set(ino, {
      attr: { ino, mode: S_IFCHR, nlink: 1, uid: 0, gid: 0, size: 0, mtimeSec: like.mtime ?? 0, mtimeNsec: 0, rdev: 0 },
      name,
      xattrs: NO_XATTRS,
    });
    return ino;
  };

  // Directories first, depth-first from the root, so the root is inode 1.
  const visitDir = (dir: TocFile): bigint => {
    const ino = nodeFor(dir);
    const node = inodes.get(ino)!;
    node.attr.nlink = 2;
    const children = new Map<string, bigint>();
    const entries = tree.children.get(dir.name) ?? new Map<string, TocFile>();
    const whiteouts: [string, TocFile][] = [];
    for (const [base, f] of entries) {
      if (dir.name === "" && HIDDEN_IN_ROOT.has(base)) continue;
      if (base === OPAQUE_MARKER) {
        node.xattrs = new Map([...node.xattrs, [`${xattrPrefix}.overlay.opaque`, enc.encode("y")]]);
        continue;
      }
      if (base.startsWith(WHITEOUT_PREFIX)) {
        whiteouts.push([base.slice(WHITEOUT_PREFIX.length), f]);
        continue;
      }
      if (f.type === "dir") {
        children.set(base, visitDir(f));
        node.attr.nlink++;
      } else children.set(base, nodeFor(f));
    }
    for (const [hidden, f] of whiteouts) {
      if (hidden && !children.has(hidden)) children.set(hidden, whiteout(dir.name ? `${dir.name}/${hidden}` : hidden, f));
    }
    node.children = children;
    return ino;
  };
  visitDir(tree.byName.get("")!);

  for (const node of inodes.values()) {
    if (!node.children) continue;
    node.list = [...node.children].map(([name, ino]) => ({ name, ino, mode: inodes.get(ino)!.attr.mode }));
  }
  return inodes;
}
