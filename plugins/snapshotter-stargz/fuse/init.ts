// FUSE_INIT negotiation: what we ask of the kernel for an immutable, read-only tree.
import { FUSE_KERNEL_MINOR_VERSION, FUSE_KERNEL_VERSION, InitFlag } from "./abi.ts";
import type { InitIn, InitOut } from "./codec.ts";

export const MAX_WRITE = 1 << 20;
/** 256 pages of 4 KiB = 1 MiB reads; also the kernel's default max_pages_limit. */
export const MAX_PAGES = 256;
/** Device read buffer: the kernel refuses reads smaller than header + fuse_write_in + max_write. */
export const REQUEST_BUFFER_SIZE = MAX_WRITE + 4096;

export interface Negotiated {
  minor: number;
  flags: bigint;
  maxPages: number;
  passthrough: boolean;
  /** The kernel can do without OPEN/RELEASE (an OPEN answered ENOSYS switches them off). */
  noOpen: boolean;
  /** The same for OPENDIR/RELEASEDIR. */
  noOpendir: boolean;
}

const WANTED =
  InitFlag.ASYNC_READ | // several READs of one file in flight: readahead overlaps slow fetches
  InitFlag.PARALLEL_DIROPS | // lookups/readdirs in one directory need not serialize
  InitFlag.DO_READDIRPLUS | InitFlag.READDIRPLUS_AUTO | // ls -l / find: attrs come with the listing
  InitFlag.CACHE_SYMLINKS | // symlink targets never change
  InitFlag.MAX_PAGES | // 1 MiB requests instead of 128 KiB
  InitFlag.EXPLICIT_INVAL_DATA | // data never changes: never drop page cache on attr refresh
  InitFlag.ABORT_ERROR | // device reads report ECONNABORTED after an abort, distinct from unmount
  InitFlag.NO_EXPORT_SUPPORT | // no lookups of "." / ".." by handle
  InitFlag.INIT_EXT;

/** `pageLimit`: fewer pages per request than MAX_PAGES (a spliced reply must fit the pipe). */
export function negotiate(kernel: InitIn, wantPassthrough: boolean, pageLimit = MAX_PAGES): { out: InitOut; negotiated: Negotiated } {
  if (kernel.major !== FUSE_KERNEL_VERSION) {
    throw new Error(`fuse/init.ts: kernel speaks FUSE ${kernel.major}.${kernel.minor}, this server only ${FUSE_KERNEL_VERSION}.x`);
  }
  const minor = Math.min(kernel.minor, FUSE_KERNEL_MINOR_VERSION);
  let flags = WANTED & kernel.flags;
  const passthrough = wantPassthrough && (kernel.flags & InitFlag.PASSTHROUGH) !== 0n;
  if (passthrough) flags |= InitFlag.PASSTHROUGH;
  const maxPages = (flags & InitFlag.MAX_PAGES) !== 0n ? Math.min(MAX_PAGES, pageLimit) : 32;
  return {
    out: {
      major: FUSE_KERNEL_VERSION,
      minor,
      maxReadahead: kernel.maxReadahead,
      flags,
      // Many concurrent async reads let readahead of several files overlap network latency.
      maxBackground: 64,
      congestionThreshold: 48,
      maxWrite: MAX_WRITE,
      timeGran: 1,
      maxPages,
      // Backing files live on a plain local fs (depth 0); depth 1 leaves room for overlayfs above us.
      maxStackDepth: passthrough ? 1 : 0,
    },
    negotiated: {
      minor, flags, maxPages, passthrough,
      noOpen: (kernel.flags & InitFlag.NO_OPEN_SUPPORT) !== 0n,
      noOpendir: (kernel.flags & InitFlag.NO_OPENDIR_SUPPORT) !== 0n,
    },
  };
}
