// Drops the page cache for the data a run touches — the registry's stored blobs — so every run
// reads them from disk, without flushing the whole machine's cache (other work shares it).
// posix_fadvise(POSIX_FADV_DONTNEED) on each file; clean pages go at once.
import { dlopen, FFIType } from 'bun:ffi';
import { closeSync, openSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const POSIX_FADV_DONTNEED = 4;
let libc: ReturnType<typeof open> | undefined;
function open() {
  return dlopen('libc.so.6', { posix_fadvise: { args: [FFIType.i32, FFIType.i64, FFIType.i64, FFIType.i32], returns: FFIType.i32 } });
}

/** Every regular file under `dir`, evicted from the page cache; returns how many. */
export function dropPageCache(dir: string): number {
  libc ??= open();
  let n = 0;
  const walk = (d: string) => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = openSync(p, 'r');
        try {
          const rc = libc!.symbols.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
          if (rc !== 0) throw new Error(`posix_fadvise(${p}): error ${rc}`);
          n++;
        } finally {
          closeSync(fd);
        }
      }
    }
  };
  walk(dir);
  return n;
}
