// The contract between the FUSE protocol server and the read-only tree it serves.
import type { FileSpan } from "./libc.ts";

export type { FileSpan };
//
// A filesystem is loaded inside each handler worker: the worker imports `fsModule` and calls its
// exported `createFs(fsInit)` (or default export). Each worker therefore has its own instance; the
// tree must be immutable (an image layer), so instances never need to agree on state.

/** Attributes of one inode. `mode` includes the S_IFMT type bits. Times are seconds + nanoseconds. */
export interface NodeAttr {
  ino: bigint | number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  mtimeSec: number;
  mtimeNsec: number;
  /** Device number (st_rdev, Linux new encoding) for char/block devices, 0 otherwise. */
  rdev: number;
  /** 512-byte blocks; defaults to ceil(size / 512). */
  blocks?: number;
  /** Defaults to mtime. */
  ctimeSec?: number;
  ctimeNsec?: number;
}

export interface DirEntry {
  name: string;
  ino: bigint | number;
  /** S_IFMT bits of the child (e.g. S_IFREG); the server derives the dirent type from it. */
  mode: number;
}

export interface FsStat {
  blocks: number;
  files: number;
  bsize?: number;
  namelen?: number;
}

/** Passthrough target for a file whose whole content sits in a local file (FUSE_PASSTHROUGH). */
export interface BackingFile {
  /** Absolute path of a regular file on a local filesystem holding exactly this file's bytes. */
  path: string;
}

/**
 * A read-only tree. Every method may throw `FsError` to answer a specific errno; any other thrown
 * error answers EIO and is reported (with the opcode and inode) on the mount's error channel.
 * Sync methods are called on the worker's thread between requests: keep them cheap (in-memory).
 * `read` may be slow (network): it is awaited, and other requests keep being served meanwhile.
 */
export interface ReadOnlyFs {
  /** Attributes of the root directory. The root's inode number must be 1 (FUSE_ROOT_ID). */
  root(): NodeAttr;
  /** Child `name` of directory `parentIno`, or undefined (answered ENOENT, cached as negative entry). */
  lookup(parentIno: bigint, name: string): NodeAttr | undefined;
  getattr(ino: bigint): NodeAttr;
  /** Symlink target bytes (no trailing NUL). */
  readlink(ino: bigint): Uint8Array;
  /** Children of a directory, without "." and ".." (the server adds those). Should return a stored array. */
  readdir(ino: bigint): readonly DirEntry[];
  /** Up to `size` bytes at `offset`; shorter only at end of file. */
  read(ino: bigint, offset: number, size: number): Promise<Uint8Array> | Uint8Array;
  /**
   * The bytes of a read when they are at hand without waiting (memory or a local file), else
   * undefined: the thread reading the device then answers at once, with no hop to a handler
   * worker, and hands only what this declines to `read`. Same contract as `read` otherwise.
   */
  readSync?(ino: bigint, offset: number, size: number): Uint8Array | undefined;
  /**
   * The local files holding the bytes of a read, in order, when all of them are on local disk
   * (same contract as `readSync` otherwise: shorter only at end of file), else undefined. The
   * thread reading the device then splices them to the kernel (FuseOptions.splice) instead of
   * copying them through a buffer; a span it cannot splice falls back to `readSync`.
   */
  readFiles?(ino: bigint, offset: number, size: number): FileSpan[] | undefined;
  /** Called once the reply holding `data` (what `read` or `readSync` returned) was written: its buffer may be reused. */
  readDone?(data: Uint8Array): void;
  /** Value of xattr `name`, or undefined (ENODATA). */
  getxattr(ino: bigint, name: string): Uint8Array | undefined;
  listxattr(ino: bigint): readonly string[];
  /** Called on each OPEN of a regular file (e.g. to start prefetching). */
  open?(ino: bigint): void;
  /** Path of an inode for access recording; without it records carry the inode only. */
  pathOf?(ino: bigint): string | undefined;
  /** A local file holding the complete content of `ino`, to hand to the kernel (passthrough). */
  backingFile?(ino: bigint): BackingFile | undefined;
  statfs?(): FsStat;
}

/** What an fs module exports: `createFs` (preferred) or a default export with the same shape. */
export type FsFactory = (init: unknown) => ReadOnlyFs | Promise<ReadOnlyFs>;

/**
 * Optional export `createInlineFs` of an fs module: an instance for the mount's reader thread,
 * which answers every request it can synchronously between two blocking device reads (lookups,
 * attributes, directories, opens, reads `readSync` serves) and hands the rest to the handler
 * workers. Its event loop only runs while the thread waits for the first request, so the instance
 * must never depend on timers, promises or incoming messages after creation. Return undefined to
 * decline (every request then goes to the workers).
 */
export type InlineFsFactory = (init: unknown) => ReadOnlyFs | undefined | Promise<ReadOnlyFs | undefined>;

export class FsError extends Error {
  constructor(readonly errno: number, message?: string) {
    super(message ?? `errno ${errno}`);
    this.name = "FsError";
  }
}

export interface FuseOptions {
  /** Seconds the kernel may cache attributes. Default one year: layers are immutable. */
  attrTimeoutSec: number;
  /** Seconds the kernel may cache name lookups, positive and negative. Default one year. */
  entryTimeoutSec: number;
  /** Mount source shown in /proc/self/mountinfo. Default "edgebuild". */
  fsName: string;
  /** Let users other than root through (allow_other). Default true: containers run as any uid. */
  allowOther: boolean;
  /** Log every request and reply to stderr. */
  debug: boolean;
  /** Send FOPEN_KEEP_CACHE so page cache survives re-opens. Default true. */
  keepCache: boolean;
  /**
   * Kernel readahead for the mount (its bdi's read_ahead_kb), raised after mounting because INIT
   * cannot exceed the 128 KiB default. 1024 makes sequential reads 1 MiB requests. 0 keeps the default.
   */
  readAheadKb: number;
  /** Negotiate FUSE_PASSTHROUGH and use `fs.backingFile` for files already on local disk. */
  passthrough: boolean;
  /**
   * Zero-message open where the kernel offers it: OPEN and OPENDIR are answered ENOSYS once and the
   * kernel stops sending them and their RELEASEs (two round trips less per file). Not used while
   * accesses are recorded or with passthrough, which need OPEN. Default true.
   */
  zeroMessageOpen: boolean;
  /** READs the reader thread answers from local files (fs.readFiles) go out by splice(2). Default true. */
  splice: boolean;
}

export interface AccessRecord {
  ino: bigint;
  path?: string;
  /** ms since epoch when the OPEN arrived. */
  at: number;
}

export interface MountStats {
  requests: number;
  reads: number;
  bytesRead: number;
  /** Requests answered EIO because the tree failed (see onError for the reason). */
  errors: number;
  inFlight: number;
  passthroughOpens: number;
  /** READs answered by splice(2) from local files (FuseOptions.splice). */
  splicedReads: number;
}

export interface MountFuseParams {
  mountpoint: string;
  /** Absolute path or URL of the fs module, or a path relative to the repository root (works in compiled binaries). */
  fsModule: string;
  /** Structured-cloneable data passed to the module's factory in each worker. */
  fsInit: unknown;
  /** Handler workers; default 2. One extra thread reads /dev/fuse. */
  workers?: number;
  options?: Partial<FuseOptions>;
  /** Called (on the main thread) for each file OPEN: records which files a workload touches.
   *  Reports are messages from the handler workers, so the last ones may arrive after the process
   *  that made the opens has exited: FuseMount.flush() waits for them. */
  onAccess?: (record: AccessRecord) => void;
  /** Called for errors inside the server (fs methods throwing non-FsError, protocol surprises). */
  onError?: (message: string) => void;
}

export interface FuseMount {
  readonly mountpoint: string;
  /** Detach the mount, stop the threads and close /dev/fuse. Idempotent. */
  unmount(): Promise<void>;
  /**
   * Resolves once every file OPEN the kernel has had answered so far has reached `onAccess` (a
   * message round trip through each handler worker): call it after a workload ended to see all
   * of its opens. Resolves at once after unmount.
   */
  flush(): Promise<void>;
  stats(): MountStats;
  /** Kernel-negotiated protocol minor version and flags. */
  readonly negotiated: { minor: number; flags: bigint; maxPages: number; passthrough: boolean };
  /** The reader thread answers what needs no waiting itself (the fs module offers createInlineFs). */
  readonly inline: boolean;
}
