// runc creates missing mount points (empty files and dirs) in the rootfs; left there they would
// show up in the RUN's layer. Record which are missing before, remove the empty ones after, and
// restore the mtime of the dir they were created in (as BuildKit's executor does).
import { lstatSync, readdirSync, rmdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { lutimesNs } from '../../core/layer/libc.ts';
import { resolveInRoot } from '../../core/layer/securejoin.ts';

interface Stub {
  /** Host paths that did not exist, deepest last (the mount point and its missing parents). */
  created: string[];
  /** The existing dir they hang from, and its times before. */
  parent: string;
  atimeNs: bigint;
  mtimeNs: bigint;
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

export function recordStubs(rootfs: string, destinations: string[]): Stub[] {
  const out: Stub[] = [];
  for (const dest of destinations) {
    const host = resolveInRoot(rootfs, dest, true);
    if (exists(host)) continue;
    const created: string[] = [];
    let p = host;
    while (!exists(p) && p.length > rootfs.length) {
      created.unshift(p);
      p = dirname(p);
    }
    const st = lstatSync(p, { bigint: true });
    out.push({ created, parent: p, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs });
  }
  return out;
}

function isEmpty(p: string): 'file' | 'dir' | false {
  try {
    const st = lstatSync(p);
    if (st.isFile() && st.size === 0) return 'file';
    if (st.isDirectory() && readdirSync(p).length === 0) return 'dir';
  } catch {}
  return false;
}

/** Removes stubs that are still empty, deepest first; never throws (cleanup path). */
export function removeStubs(stubs: Stub[]): void {
  for (const s of [...stubs].reverse()) {
    let removedAny = false;
    for (const p of [...s.created].reverse()) {
      const kind = isEmpty(p);
      if (!kind) break;
      try {
        if (kind === 'file') unlinkSync(p);
        else rmdirSync(p);
        removedAny = true;
      } catch {
        break;
      }
    }
    if (removedAny) {
      try {
        lutimesNs(s.parent, s.atimeNs, s.mtimeNs);
      } catch {}
    }
  }
}

