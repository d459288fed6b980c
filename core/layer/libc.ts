// The few Linux syscalls Node's fs lacks (xattrs, mknod, mount), through libc with bun:ffi.
// Paths are never followed through a final symlink here: the l* variants are used throughout.
import { dlopen, FFIType, read, type Pointer } from 'bun:ffi';
import { constants } from 'node:os';

const { ptr, cstring, i32, i64, u32, u64 } = FFIType;

const SYMBOLS = {
  lgetxattr: { args: [cstring, cstring, ptr, u64], returns: i64 },
  lsetxattr: { args: [cstring, cstring, ptr, u64, i32], returns: i32 },
  llistxattr: { args: [cstring, ptr, u64], returns: i64 },
  lremovexattr: { args: [cstring, cstring], returns: i32 },
  mknod: { args: [cstring, u32, u64], returns: i32 },
  mount: { args: [cstring, cstring, cstring, u64, cstring], returns: i32 },
  umount2: { args: [cstring, i32], returns: i32 },
  utimensat: { args: [i32, cstring, ptr, i32], returns: i32 },
  flock: { args: [i32, i32], returns: i32 },
  __errno_location: { args: [], returns: ptr },
} as const;

// Opened on first use, so importing this module never fails (e.g. `edgebuild --help` on musl).
let opened: ReturnType<typeof dlopen<typeof SYMBOLS>> | undefined;
const lib = {
  get symbols() {
    opened ??= dlopen('libc.so.6', SYMBOLS);
    return opened.symbols;
  },
};

const c = (s: string) => Buffer.from(`${s}\0`);
const errnoNames = new Map(Object.entries(constants.errno).map(([k, v]) => [v as number, k]));

export class SysError extends Error {
  constructor(
    readonly syscall: string,
    readonly code: string,
    readonly path: string,
  ) {
    super(`${syscall} ${path}: ${code}`);
    this.name = 'SysError';
  }
}

function check(rc: number | bigint, syscall: string, path: string): number {
  if (Number(rc) >= 0) return Number(rc);
  const errno = read.i32(lib.symbols.__errno_location() as Pointer, 0);
  throw new SysError(syscall, errnoNames.get(errno) ?? `errno ${errno}`, path);
}

/** Value of one xattr, or undefined when the file does not have it. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  for (let size = 256; ; size *= 4) {
    const buf = Buffer.alloc(size);
    try {
      const n = check(lib.symbols.lgetxattr(c(path), c(name), buf, size), 'lgetxattr', path);
      return buf.subarray(0, n);
    } catch (e) {
      const code = (e as SysError).code;
      if (code === 'ENODATA' || code === 'ENOTSUP') return undefined;
      if (code !== 'ERANGE' || size > 1 << 20) throw e;
    }
  }
}

export function lsetxattr(path: string, name: string, value: Uint8Array): void {
  check(lib.symbols.lsetxattr(c(path), c(name), value.length ? value : Buffer.alloc(1), value.length, 0), 'lsetxattr', path);
}

export function lremovexattr(path: string, name: string): void {
  try {
    check(lib.symbols.lremovexattr(c(path), c(name)), 'lremovexattr', path);
  } catch (e) {
    if ((e as SysError).code !== 'ENODATA') throw e;
  }
}

/** Names of all xattrs of path (without following a final symlink), sorted. */
export function llistxattr(path: string): string[] {
  for (let size = 1024; ; size *= 4) {
    const buf = Buffer.alloc(size);
    try {
      const n = check(lib.symbols.llistxattr(c(path), buf, size), 'llistxattr', path);
      return buf
        .subarray(0, n)
        .toString('latin1')
        .split('\0')
        .filter((s) => s.length > 0)
        .map((s) => Buffer.from(s, 'latin1').toString('utf8'))
        .sort();
    } catch (e) {
      const code = (e as SysError).code;
      if (code === 'ENOTSUP') return [];
      if (code !== 'ERANGE' || size > 1 << 20) throw e;
    }
  }
}

/** glibc's makedev encoding of a dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

export function devMajor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number(((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn));
}

export function devMinor(dev: number | bigint): number {
  const d = BigInt(dev);
  return Number((d & 0xffn) | ((d >> 12n) & ~0xffn));
}

export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;

/** mknod(2); `mode` includes the file type bits (S_IFCHR, S_IFBLK, S_IFIFO). */
export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  check(lib.symbols.mknod(c(path), mode, makedev(major, minor)), 'mknod', path);
}

export function mountSyscall(source: string, target: string, fstype: string, flags: bigint, data: string): void {
  check(lib.symbols.mount(c(source), c(target), c(fstype), flags, c(data)), `mount(${fstype})`, target);
}

export const MNT_DETACH = 2;

export function umount2(target: string, flags: number): void {
  check(lib.symbols.umount2(c(target), flags), 'umount2', target);
}

const AT_FDCWD = -100;
const AT_SYMLINK_NOFOLLOW = 0x100;

/** Sets atime and mtime with nanosecond precision, not following a final symlink. */
export function lutimesNs(path: string, atimeNs: bigint, mtimeNs: bigint): void {
  const ts = new BigInt64Array([atimeNs / 1_000_000_000n, atimeNs % 1_000_000_000n, mtimeNs / 1_000_000_000n, mtimeNs % 1_000_000_000n]);
  check(lib.symbols.utimensat(AT_FDCWD, c(path), ts, AT_SYMLINK_NOFOLLOW), 'utimensat', path);
}

/** Blocks until this process holds an exclusive lock on the open file `fd` (released on close). */
export function flockExclusive(fd: number, what: string): void {
  for (;;) {
    try {
      check(lib.symbols.flock(fd, 2 /* LOCK_EX */), 'flock', what);
      return;
    } catch (e) {
      if ((e as SysError).code !== 'EINTR') throw e;
    }
  }
}
