// How much of a file is in the page cache, with mincore(2) on a shared read-only mapping. After
// evicting a tree and running a workload once, this is what the workload actually read of each
// file — mmap'ed accesses (a JDK's modules image, shared libraries) included, which a trace of
// read() calls would miss; kernel readahead is included too, as a lazy pull's chunks would be.
import { dlopen, FFIType, ptr } from 'bun:ffi';
import { statSync } from 'node:fs';

const PAGE = 4096;
let libc: ReturnType<typeof open> | undefined;
function open() {
  return dlopen('libc.so.6', { mincore: { args: [FFIType.ptr, FFIType.u64, FFIType.ptr], returns: FFIType.i32 } });
}

/** Byte ranges [start, end) of `path` resident in the page cache, adjacent pages merged, the last
 *  one capped at the file's size. */
export function residentRanges(path: string): [number, number][] {
  const size = statSync(path).size;
  if (size === 0) return [];
  libc ??= open();
  const map = Bun.mmap(path, { shared: true });
  const pages = Math.ceil(size / PAGE);
  const vec = new Uint8Array(pages);
  const rc = libc.symbols.mincore(ptr(map), size, ptr(vec));
  if (rc !== 0) throw new Error(`mincore(${path}) failed`);
  const out: [number, number][] = [];
  for (let i = 0; i < pages; i++) {
    if (!(vec[i] & 1)) continue;
    const last = out[out.length - 1];
    if (last && last[1] === i * PAGE) last[1] = Math.min(size, (i + 1) * PAGE);
    else out.push([i * PAGE, Math.min(size, (i + 1) * PAGE)]);
  }
  return out;
}

/** Bytes of `path` resident in the page cache (capped at its size). */
export function residentBytes(path: string): number {
  return residentRanges(path).reduce((n, [s, e]) => n + e - s, 0);
}
