// A read-only FUSE tree over a local directory, for `convert --optimize` and for recording which
// files build steps open in local layers (estargz-optimize): the workload runs on it so the FUSE
// server sees (and records) every file it opens. Loaded inside the FUSE handler
// workers (`createFs`), so it must stay importable on its own; the compiled binary lists it as an
// extra entrypoint. Inodes are numbered by a walk at start-up: the tree is an unpacked image that
// nothing changes while it is served.
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { lgetxattr, llistxattr } from '../layer/libc.ts';
import { Errno, S_IFMT, S_IFREG } from '../../plugins/snapshotter-stargz/fuse/abi.ts';
import { FsError, type DirEntry, type NodeAttr, type ReadOnlyFs } from '../../plugins/snapshotter-stargz/fuse/types.ts';

export interface DirFsInit {
  dir: string;
  /** Serve the tree's xattrs (overlay's opaque markers when it is a layer under overlayfs). */
  xattrs?: boolean;
  /** Offer regular files to the kernel as passthrough backing files (reads bypass the server). */
  passthrough?: boolean;
}

interface Node {
  path: string; // relative to the root, "" for the root
  attr: NodeAttr;
  children?: Map<string, bigint>;
  list?: DirEntry[];
}

function attrOf(ino: bigint, st: BigIntStats): NodeAttr {
  return {
    ino,
    mode: Number(st.mode),
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
    mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
    rdev: Number(st.rdev),
  };
}

export function createFs(init: unknown): ReadOnlyFs {
  const { dir, xattrs, passthrough } = init as DirFsInit;
  const nodes = new Map<bigint, Node>();
  const byIdentity = new Map<string, bigint>(); // hardlinks share one inode
  let next = 1n;
  const walk = (rel: string): bigint => {
    const st = lstatSync(join(dir, rel), { bigint: true });
    const key = `${st.dev}:${st.ino}`;
    if (!st.isDirectory() && st.nlink > 1n && byIdentity.has(key)) return byIdentity.get(key)!;
    const ino = next++;
    const node: Node = { path: rel, attr: attrOf(ino, st) };
    nodes.set(ino, node);
    if (!st.isDirectory() && st.nlink > 1n) byIdentity.set(key, ino);
    if (st.isDirectory()) {
      node.children = new Map();
      node.list = [];
      for (const name of readdirSync(join(dir, rel)).sort()) {
        const child = walk(rel ? `${rel}/${name}` : name);
        node.children.set(name, child);
        node.list.push({ name, ino: child, mode: nodes.get(child)!.attr.mode & S_IFMT });
      }
    }
    return ino;
  };
  walk('');
  const get = (ino: bigint): Node => {
    const n = nodes.get(ino);
    if (!n) throw new FsError(Errno.ENOENT);
    return n;
  };
  return {
    root: () => get(1n).attr,
    lookup: (parent, name) => {
      const c = get(parent).children?.get(name);
      return c === undefined ? undefined : get(c).attr;
    },
    getattr: (ino) => get(ino).attr,
    readlink: (ino) => new Uint8Array(readlinkSync(join(dir, get(ino).path), { encoding: 'buffer' })),
    readdir: (ino) => get(ino).list ?? [],
    read: (ino, offset, size) => {
      const fd = openSync(join(dir, get(ino).path), 'r');
      try {
        const buf = new Uint8Array(size);
        let n = 0;
        while (n < size) {
          const got = readSync(fd, buf, n, size - n, offset + n);
          if (got === 0) break;
          n += got;
        }
        return buf.subarray(0, n);
      } finally {
        closeSync(fd);
      }
    },
    // Without `xattrs` (convert --optimize): capabilities and ACLs are not needed to see which
    // files a workload opens.
    getxattr: (ino, name) => (xattrs ? lgetxattr(join(dir, get(ino).path), name) : undefined),
    listxattr: (ino) => (xattrs ? llistxattr(join(dir, get(ino).path)) : []),
    pathOf: (ino) => nodes.get(ino)?.path,
    backingFile: (ino) => {
      const n = passthrough ? nodes.get(ino) : undefined;
      return n && (n.attr.mode & S_IFMT) === S_IFREG ? { path: join(dir, n.path) } : undefined;
    },
  };
}

export default createFs;
