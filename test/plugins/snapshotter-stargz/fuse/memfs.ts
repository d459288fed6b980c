// An in-memory read-only tree built from a serializable spec: the fs module the FUSE tests mount.
import { closeSync, openSync, readSync } from "node:fs";
import { Errno, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from "../../../../plugins/snapshotter-stargz/fuse/abi.ts";
import { FsError, type DirEntry, type NodeAttr, type ReadOnlyFs } from "../../../../plugins/snapshotter-stargz/fuse/types.ts";

export type Content =
  | { kind: "text"; text: string }
  /** `size` bytes of a fixed pseudo-random pattern (see patternBytes), generated on read. */
  | { kind: "pattern"; size: number }
  /** Bytes of a local file, read on demand (the passthrough tests hand the same file to the kernel). */
  | { kind: "file"; path: string; size: number }
  /** `size` bytes answered from one block made once, the same bytes at every offset: a server that
   *  does no work per byte (the throughput ceiling of any FUSE server, for benchmarks). */
  | { kind: "static"; size: number };

export interface SpecEntry {
  path: string; // "/a/b"
  type: "dir" | "file" | "symlink" | "hardlink" | "char" | "fifo";
  perm?: number; // permission bits incl. setuid/sticky
  uid?: number;
  gid?: number;
  mtimeSec?: number;
  mtimeNsec?: number;
  content?: Content;
  target?: string; // symlink target, or hardlink: path of the existing file
  rdev?: number;
  xattrs?: Record<string, string>;
  /** Every read of this file waits this long first (simulates a network fetch). */
  readDelayMs?: number;
  /** Serve this file through FUSE passthrough (content must be kind "file"). */
  passthrough?: boolean;
}

export interface MemFsInit {
  entries: SpecEntry[];
  /** false: no instance for the reader thread (createInlineFs declines; every request goes to a worker). */
  inline?: boolean;
  /** Reads served, counted per instance kind: [0] by the reader thread's, [1] by the workers'. */
  served?: SharedArrayBuffer;
}

const PATTERN_LEN = (1 << 20) + 7; // not a power of two, so block-aligned reads see shifting data
let pattern: Uint8Array | undefined;

export function patternBlock(): Uint8Array {
  if (pattern) return pattern;
  pattern = new Uint8Array(PATTERN_LEN);
  let x = 0x9e3779b9;
  for (let i = 0; i < PATTERN_LEN; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; // xorshift32
    pattern[i] = x & 0xff;
  }
  return pattern;
}

export function patternBytes(offset: number, size: number): Uint8Array {
  const block = patternBlock();
  const out = new Uint8Array(size);
  let done = 0;
  while (done < size) {
    const at = (offset + done) % PATTERN_LEN;
    const n = Math.min(size - done, PATTERN_LEN - at);
    out.set(block.subarray(at, at + n), done);
    done += n;
  }
  return out;
}

interface Node {
  attr: NodeAttr;
  path: string;
  children?: Map<string, bigint>;
  list?: DirEntry[];
  content?: Content;
  target?: Uint8Array;
  xattrs: Map<string, Uint8Array>;
  readDelayMs: number;
  passthrough: boolean;
}

const enc = new TextEncoder();

/** The reader thread's instance: answers without waiting, declines reads of slow files. */
export function createInlineFs(init: unknown): ReadOnlyFs | undefined {
  return (init as MemFsInit).inline === false ? undefined : createFs(init, true);
}

export function createFs(init: unknown, inline = false): ReadOnlyFs {
  const { entries, served } = init as MemFsInit;
  const count = served ? new Int32Array(served) : undefined;
  const nodes = new Map<bigint, Node>();
  const byPath = new Map<string, bigint>();
  let nextIno = 1n;
  const mk = (path: string, mode: number, e: Partial<SpecEntry>, size: number): Node => {
    const ino = nextIno++;
    const node: Node = {
      path,
      attr: {
        ino, mode, nlink: (mode & S_IFMT) === S_IFDIR ? 2 : 1, uid: e.uid ?? 0, gid: e.gid ?? 0, size,
        mtimeSec: e.mtimeSec ?? 1_700_000_000, mtimeNsec: e.mtimeNsec ?? 0, rdev: e.rdev ?? 0,
      },
      xattrs: new Map(Object.entries(e.xattrs ?? {}).map(([k, v]) => [k, enc.encode(v)])),
      readDelayMs: e.readDelayMs ?? 0,
      passthrough: e.passthrough ?? false,
    };
    nodes.set(ino, node);
    byPath.set(path, ino);
    return node;
  };
  const root = mk("/", S_IFDIR | 0o755, {}, 4096);
  root.children = new Map();
  const parentOf = (path: string): Node => {
    const dir = path.slice(0, path.lastIndexOf("/")) || "/";
    const ino = byPath.get(dir);
    const node = ino === undefined ? undefined : nodes.get(ino);
    if (!node?.children) throw new Error(`memfs: parent of ${path} is not a directory in the spec`);
    return node;
  };
  for (const e of entries) {
    const parent = parentOf(e.path);
    const name = e.path.slice(e.path.lastIndexOf("/") + 1);
    let node: Node;
    if (e.type === "hardlink") {
      const ino = byPath.get(e.target ?? "");
      if (ino === undefined) throw new Error(`memfs: hardlink ${e.path} → unknown ${e.target}`);
      node = nodes.get(ino)!;
      node.attr.nlink++;
      parent.children!.set(name, ino);
      continue;
    }
    const perm = e.perm ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    if (e.type === "dir") {
      node = mk(e.path, S_IFDIR | perm, e, 4096);
      node.children = new Map();
      parent.attr.nlink++;
    } else if (e.type === "file") {
      const c = e.content ?? { kind: "text", text: "" };
      const size = c.kind === "text" ? enc.encode(c.text).byteLength : c.size;
      node = mk(e.path, S_IFREG | perm, e, size);
      node.content = c;
    } else if (e.type === "symlink") {
      const target = enc.encode(e.target ?? "");
      node = mk(e.path, S_IFLNK | perm, e, target.byteLength);
      node.target = target;
    } else if (e.type === "char") {
      node = mk(e.path, S_IFCHR | perm, e, 0);
    } else {
      node = mk(e.path, S_IFIFO | perm, e, 0);
    }
    parent.children!.set(name, node.attr.ino as bigint);
  }
  const get = (ino: bigint): Node => {
    const n = nodes.get(ino);
    if (!n) throw new FsError(Errno.ENOENT, `memfs: no inode ${ino}`);
    return n;
  };
  const file = Bun.file;
  return {
    root: () => root.attr,
    lookup(parent, name) {
      const ino = get(parent).children?.get(name);
      return ino === undefined ? undefined : get(ino).attr;
    },
    getattr: (ino) => get(ino).attr,
    readlink(ino) {
      const t = get(ino).target;
      if (!t) throw new FsError(Errno.EINVAL);
      return t;
    },
    readdir(ino) {
      const n = get(ino);
      if (!n.children) throw new FsError(Errno.ENOTDIR);
      n.list ??= [...n.children].map(([name, child]) => ({ name, ino: child, mode: get(child).attr.mode }));
      return n.list;
    },
    async read(ino, offset, size) {
      const n = get(ino);
      if (n.readDelayMs) await Bun.sleep(n.readDelayMs);
      const c = n.content;
      if (!c) throw new FsError(Errno.EISDIR);
      if (count) Atomics.add(count, 1, 1);
      const len = Math.max(0, Math.min(size, n.attr.size - offset));
      if (c.kind === "text") return enc.encode(c.text).subarray(offset, offset + len);
      if (c.kind === "pattern") return patternBytes(offset, len);
      if (c.kind === "static") return patternBlock().subarray(0, len);
      return new Uint8Array(await file(c.path).slice(offset, offset + len).arrayBuffer());
    },
    ...(inline ? {
      readFiles(ino: bigint, offset: number, size: number) {
        const n = get(ino);
        const c = n.content;
        if (n.readDelayMs || c?.kind !== "file") return undefined;
        if (count) Atomics.add(count, 0, 1);
        return [{ path: c.path, offset, length: Math.max(0, Math.min(size, n.attr.size - offset)) }];
      },
      readSync(ino: bigint, offset: number, size: number): Uint8Array | undefined {
        const n = get(ino);
        if (n.readDelayMs) return undefined;
        const c = n.content;
        if (!c) throw new FsError(Errno.EISDIR);
        if (count) Atomics.add(count, 0, 1);
        const len = Math.max(0, Math.min(size, n.attr.size - offset));
        if (c.kind === "text") return enc.encode(c.text).subarray(offset, offset + len);
        if (c.kind === "pattern") return patternBytes(offset, len);
        if (c.kind === "static") return patternBlock().subarray(0, len);
        const out = new Uint8Array(len);
        const fd = openSync(c.path, "r");
        try {
          readSync(fd, out, 0, len, offset);
        } finally {
          closeSync(fd);
        }
        return out;
      },
    } : {}),
    getxattr: (ino, name) => get(ino).xattrs.get(name),
    listxattr: (ino) => [...get(ino).xattrs.keys()],
    pathOf: (ino) => nodes.get(ino)?.path,
    backingFile(ino) {
      const n = get(ino);
      return n.passthrough && n.content?.kind === "file" ? { path: n.content.path } : undefined;
    },
    statfs: () => ({ blocks: 1000, files: nodes.size }),
  };
}
