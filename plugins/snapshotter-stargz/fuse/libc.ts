// The few libc calls Bun has no API for (mount, umount2, ioctl, raw read/write on /dev/fuse), via bun:ffi.
// Loaded lazily per thread: each Worker opens its own handle.
import { dlopen, FFIType, ptr, read as ffiRead, suffix } from "bun:ffi";
import { closeSync, openSync, readFileSync } from "node:fs";

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
        pipe2: { args: [FFIType.ptr, FFIType.i32], returns: FFIType.i32 },
        splice: { args: [FFIType.i32, FFIType.ptr, FFIType.i32, FFIType.ptr, FFIType.u64, FFIType.u32], returns: FFIType.i64 },
        fcntl: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
        close: { args: [FFIType.i32], returns: FFIType.i32 },
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

const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_SETPIPE_SZ = 1031;
const SPLICE_F_MOVE = 1;
const SPLICE_F_NONBLOCK = 2;
const ENOENT = 2;

function pipeMaxSize(): number {
  try {
    return Number(readFileSync("/proc/sys/fs/pipe-max-size", "utf8").trim()) || 65536;
  } catch {
    return 65536;
  }
}

let pipePages: number | undefined;

/**
 * Page slots a pipe of this process can hold: enough for a READ of MAX_PAGES at any alignment
 * plus its header when the pipe may grow past /proc/sys/fs/pipe-max-size (CAP_SYS_RESOURCE), else
 * that size. A spliced reply must fit: the mount then asks the kernel for smaller READs.
 */
export function splicePipePages(want = 2 * 256): number {
  if (pipePages !== undefined) return pipePages;
  const fds = new Int32Array(2);
  if (lib().pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) return (pipePages = 16);
  try {
    const got = lib().fcntl(fds[1], F_SETPIPE_SZ, want * 4096);
    pipePages = Math.floor((got >= 0 ? got : Math.max(0, lib().fcntl(fds[1], F_SETPIPE_SZ, pipeMaxSize()))) / 4096) || 16;
  } finally {
    lib().close(fds[0]);
    lib().close(fds[1]);
  }
  return pipePages;
}

/** One local file's bytes a READ reply carries: `length` bytes at `offset` of `path`. */
export interface FileSpan {
  path: string;
  offset: number;
  length: number;
}

/**
 * A pipe READ replies go through with splice(2): the header is written into it, the data spliced
 * in from the files holding it (page references, no copy through this thread), then the whole
 * message spliced to /dev/fuse, where the kernel copies it once into the reader's pages. With
 * pread + writev the bytes cross user space twice. One per thread; rebuilt after a failure (a
 * pipe left holding part of a message would corrupt the next).
 */
export class SplicePipe {
  private fds: Int32Array | undefined;
  private readonly off = new BigInt64Array(1);
  /** The device refused a spliced reply once: copies only from then on. */
  private disabled = false;

  /** `bytes`: pipe capacity, at least the largest reply (data pages, unaligned, plus the header's page). */
  constructor(private readonly bytes: number) {}

  private open(): Int32Array | undefined {
    const fds = new Int32Array(2);
    if (lib().pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) return undefined;
    // Above /proc/sys/fs/pipe-max-size (1 MiB by default) this needs CAP_SYS_RESOURCE; without
    // it, the most allowed: a reply needing more page slots than that does not fit (fill() fails,
    // nothing is written, the copy path answers).
    if (lib().fcntl(fds[1], F_SETPIPE_SZ, this.bytes) < 0 && lib().fcntl(fds[1], F_SETPIPE_SZ, pipeMaxSize()) < 0) {
      this.closeFds(fds);
      return undefined;
    }
    return fds;
  }

  private closeFds(fds: Int32Array): void {
    lib().close(fds[0]);
    lib().close(fds[1]);
  }

  /**
   * Writes `header` + the spans' bytes to `dev` as one message. Returns the bytes written, -ENOENT
   * when the kernel no longer waits for the answer, or undefined when the message did not go out
   * (no pipe, a span short or unreadable, the device refusing it): the caller answers the copy way then.
   */
  reply(dev: number, header: Uint8Array, spans: FileSpan[]): number | undefined {
    if (this.disabled) return undefined;
    this.fds ??= this.open();
    const fds = this.fds;
    if (!fds) return undefined;
    let total = header.byteLength;
    let ok = writeFd(fds[1], header) === header.byteLength;
    for (const s of spans) {
      if (!ok) break;
      ok = this.fill(fds[1], s);
      total += s.length;
    }
    if (!ok) {
      this.reset();
      return undefined;
    }
    const n = Number(lib().splice(fds[0], null, dev, null, BigInt(total), SPLICE_F_MOVE));
    if (n === total) return n;
    const err = n < 0 ? errno() : 0;
    this.reset(); // whatever the device did not take is still in the pipe
    // ENOENT: the kernel dropped the request (interrupted): answered as far as it cares. Anything
    // else: this device does not take spliced replies; the copy path answers, now and from now on.
    if (err === ENOENT) return -ENOENT;
    this.disabled = true;
    return undefined;
  }

  /** Splices one span into the pipe; false when the file is short, gone or the pipe full. */
  private fill(w: number, s: FileSpan): boolean {
    let fd: number;
    try {
      fd = openSync(s.path, "r");
    } catch {
      return false;
    }
    try {
      this.off[0] = BigInt(s.offset);
      for (let left = s.length; left > 0; ) {
        const n = Number(lib().splice(fd, this.off, w, null, BigInt(left), SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
        if (n <= 0) return false;
        left -= n;
      }
      return true;
    } finally {
      closeSync(fd);
    }
  }

  reset(): void {
    if (this.fds) this.closeFds(this.fds);
    this.fds = undefined;
  }
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
