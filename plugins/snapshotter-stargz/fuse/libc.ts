// The few libc calls Bun has no API for (mount, umount2, ioctl, raw read/write on /dev/fuse), via bun:ffi.
// Loaded lazily per thread: each Worker opens its own handle.
import { dlopen, FFIType, ptr, read as ffiRead, suffix } from "bun:ffi";
import { closeSync, openSync } from "node:fs";

function loadLibc() {
  const candidates = ["libc.so.6", `libc.${suffix}`];
  let lastError: unknown;
  for (const name of candidates) {
    try {
      return dlopen(name, {
        mount: { args: [FFIType.cstring, FFIType.cstring, FFIType.cstring, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
        umount2: { args: [FFIType.cstring, FFIType.i32], returns: FFIType.i32 },
        read: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
        write: { args: [FFIType.i32, FFIType.ptr, FFIType.u64], returns: FFIType.i64 },
        writev: { args: [FFIType.i32, FFIType.ptr, FFIType.i32], returns: FFIType.i64 },
        ioctl: { args: [FFIType.i32, FFIType.u64, FFIType.ptr], returns: FFIType.i32 },
        __errno_location: { args: [], returns: FFIType.ptr },
      });
    } catch (e) {
      lastError = e;
    }
  }
  throw new Error(`fuse/libc.ts: cannot load libc via bun:ffi: ${String(lastError)}`);
}

let libc: ReturnType<typeof loadLibc> | undefined;

function lib() {
  libc ??= loadLibc();
  return libc.symbols;
}

/** errno of the last failed call on this thread; read right after the call that failed. */
function errno(): number {
  const p = lib().__errno_location();
  return p === null ? 0 : ffiRead.i32(p, 0);
}

export class SyscallError extends Error {
  constructor(readonly call: string, readonly errno: number, detail: string) {
    super(`${call}(${detail}) failed: errno ${errno}`);
    this.name = "SyscallError";
  }
}

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, "utf8");
}

export const MS_RDONLY = 1n;
export const MS_NOSUID = 2n;
export const MS_NODEV = 4n;
export const MNT_DETACH = 2;

export function mount(source: string, target: string, fstype: string, flags: bigint, data: string): void {
  const rc = lib().mount(cstr(source), cstr(target), cstr(fstype), flags, cstr(data));
  if (rc !== 0) throw new SyscallError("mount", errno(), `${target}, ${fstype}`);
}

/** Returns 0 or the errno (EINVAL: not a mount point, ENOENT: gone) so callers can decide. */
export function umount2(target: string, flags: number): number {
  return lib().umount2(cstr(target), flags) === 0 ? 0 : errno();
}

/** read(2) into `buf`; returns bytes read or a negative errno. Blocks the calling thread. */
export function readFd(fd: number, buf: Uint8Array): number {
  const n = Number(lib().read(fd, buf, BigInt(buf.byteLength)));
  return n >= 0 ? n : -errno();
}

/** write(2) of a whole message; returns bytes written or a negative errno. */
export function writeFd(fd: number, buf: Uint8Array): number {
  const n = Number(lib().write(fd, buf, BigInt(buf.byteLength)));
  return n >= 0 ? n : -errno();
}

/**
 * writev(2) of a message in two parts (header, payload): a READ answer goes out without copying the
 * data behind a header first. Both arrays stay referenced for the duration of the call.
 */
export function writevFd(fd: number, head: Uint8Array, body: Uint8Array): number {
  if (body.byteLength === 0) return writeFd(fd, head);
  const iov = new BigUint64Array([BigInt(ptr(head)), BigInt(head.byteLength), BigInt(ptr(body)), BigInt(body.byteLength)]);
  const n = Number(lib().writev(fd, iov, 2));
  return n >= 0 ? n : -errno();
}

/** ioctl(2) with a pointer argument; returns the result or a negative errno. */
export function ioctl(fd: number, request: bigint, arg: Uint8Array): number {
  const rc = lib().ioctl(fd, request, arg);
  return rc >= 0 ? rc : -errno();
}

// _IOW(229, 1, struct fuse_backing_map /* 16 bytes */) and _IOW(229, 2, uint32_t).
const IOC_WRITE = 1n;
function iow(type: number, nr: number, size: number): bigint {
  return (IOC_WRITE << 30n) | (BigInt(size) << 16n) | (BigInt(type) << 8n) | BigInt(nr);
}
export const FUSE_DEV_IOC_BACKING_OPEN = iow(229, 1, 16);
export const FUSE_DEV_IOC_BACKING_CLOSE = iow(229, 2, 4);

/**
 * Registers local file `path` with FUSE connection `fd` for passthrough: returns the backing id,
 * or a negative errno. Backing ids live until the connection ends (closing /dev/fuse releases them).
 */
export function openBacking(fd: number, path: string): number {
  const file = openSync(path, "r");
  try {
    const map = new DataView(new ArrayBuffer(16)); // struct fuse_backing_map { s32 fd; u32 flags; u64 padding }
    map.setInt32(0, file, true);
    return ioctl(fd, FUSE_DEV_IOC_BACKING_OPEN, new Uint8Array(map.buffer));
  } finally {
    closeSync(file); // the kernel holds its own reference once the backing id exists
  }
}
