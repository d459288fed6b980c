// Numbers of the FUSE kernel ABI (include/uapi/linux/fuse.h, protocol 7.45) that this server speaks.
// Only constants live here; byte layouts are in codec.ts.

export const FUSE_KERNEL_VERSION = 7;
/** Highest minor we implement; the reply to INIT carries min(kernel, this). */
export const FUSE_KERNEL_MINOR_VERSION = 45;
export const FUSE_ROOT_ID = 1n;

export const Opcode = {
  LOOKUP: 1,
  FORGET: 2,
  GETATTR: 3,
  SETATTR: 4,
  READLINK: 5,
  SYMLINK: 6,
  MKNOD: 8,
  MKDIR: 9,
  UNLINK: 10,
  RMDIR: 11,
  RENAME: 12,
  LINK: 13,
  OPEN: 14,
  READ: 15,
  WRITE: 16,
  STATFS: 17,
  RELEASE: 18,
  FSYNC: 20,
  SETXATTR: 21,
  GETXATTR: 22,
  LISTXATTR: 23,
  REMOVEXATTR: 24,
  FLUSH: 25,
  INIT: 26,
  OPENDIR: 27,
  READDIR: 28,
  RELEASEDIR: 29,
  FSYNCDIR: 30,
  GETLK: 31,
  SETLK: 32,
  SETLKW: 33,
  ACCESS: 34,
  CREATE: 35,
  INTERRUPT: 36,
  BMAP: 37,
  DESTROY: 38,
  IOCTL: 39,
  POLL: 40,
  NOTIFY_REPLY: 41,
  BATCH_FORGET: 42,
  FALLOCATE: 43,
  READDIRPLUS: 44,
  RENAME2: 45,
  LSEEK: 46,
  COPY_FILE_RANGE: 47,
  SETUPMAPPING: 48,
  REMOVEMAPPING: 49,
  SYNCFS: 50,
  TMPFILE: 51,
  STATX: 52,
  COPY_FILE_RANGE_64: 53,
} as const;

export const opcodeName: Record<number, string> = Object.fromEntries(
  Object.entries(Opcode).map(([name, code]) => [code, name]),
);

/** Opcodes that would modify the tree: answered EROFS. */
export const WRITE_OPCODES: ReadonlySet<number> = new Set([
  Opcode.SETATTR, Opcode.SYMLINK, Opcode.MKNOD, Opcode.MKDIR, Opcode.UNLINK, Opcode.RMDIR,
  Opcode.RENAME, Opcode.RENAME2, Opcode.LINK, Opcode.WRITE, Opcode.CREATE, Opcode.SETXATTR,
  Opcode.REMOVEXATTR, Opcode.FALLOCATE, Opcode.COPY_FILE_RANGE, Opcode.COPY_FILE_RANGE_64,
  Opcode.TMPFILE,
]);

// INIT flags (bits 32..63 travel in flags2).
export const InitFlag = {
  ASYNC_READ: 1n << 0n,
  EXPORT_SUPPORT: 1n << 4n,
  DO_READDIRPLUS: 1n << 13n,
  READDIRPLUS_AUTO: 1n << 14n,
  /** Kernel → server only: an OPEN answered ENOSYS means "no open state": no OPEN/RELEASE from then on. */
  NO_OPEN_SUPPORT: 1n << 17n,
  PARALLEL_DIROPS: 1n << 18n,
  ABORT_ERROR: 1n << 21n,
  MAX_PAGES: 1n << 22n,
  CACHE_SYMLINKS: 1n << 23n,
  /** Kernel → server only: the same for OPENDIR/RELEASEDIR. */
  NO_OPENDIR_SUPPORT: 1n << 24n,
  EXPLICIT_INVAL_DATA: 1n << 25n,
  INIT_EXT: 1n << 30n,
  PASSTHROUGH: 1n << 37n,
  NO_EXPORT_SUPPORT: 1n << 38n,
} as const;

export const FOPEN_DIRECT_IO = 1 << 0;
export const FOPEN_KEEP_CACHE = 1 << 1;
export const FOPEN_CACHE_DIR = 1 << 3;
/** No FLUSH on close (kernel ≥ 5.19). A FLUSH is a forced request the kernel waits for without
 * interruption: a SIGKILLed edgebuild closing a file on its own mount during exit would wait forever
 * for an answer its dead threads cannot send, and keep the mount hung. A read-only fs has nothing to flush. */
export const FOPEN_NOFLUSH = 1 << 5;
export const FOPEN_PASSTHROUGH = 1 << 7;

export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  EINTR: 4,
  EIO: 5,
  EBADF: 9,
  EAGAIN: 11,
  EACCES: 13,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  EFBIG: 27,
  EROFS: 30,
  ERANGE: 34,
  ENOSYS: 38,
  ENODATA: 61,
  EPROTO: 71,
  ENOTSUP: 95,
  ECONNABORTED: 103,
} as const;

export const S_IFMT = 0o170000;
export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const S_IFSOCK = 0o140000;

export const O_ACCMODE = 0o3;
export const O_RDONLY = 0;

// Sizes of the fixed structs we decode or encode.
export const IN_HEADER_SIZE = 40;
export const OUT_HEADER_SIZE = 16;
export const ATTR_SIZE = 88;
export const ENTRY_OUT_SIZE = 40 + ATTR_SIZE;
export const ATTR_OUT_SIZE = 16 + ATTR_SIZE;
export const DIRENT_BASE_SIZE = 24;
export const INIT_OUT_SIZE = 64;
/** fuse_write_in: the kernel insists that a device read buffer holds a header, this and max_write. */
export const WRITE_IN_SIZE = 40;
