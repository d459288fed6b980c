// Listing of a host directory tree (type, mode, size, link target) so a test can prove that
// nothing outside a rootfs changed, plus a search for marker names in the usual escape targets.
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

export function hostTree(dir: string, skip: string[] = []): string[] {
  const out: string[] = [];
  const visit = (p: string, rel: string) => {
    if (skip.includes(p)) return;
    const st = lstatSync(p);
    const what = st.isSymbolicLink() ? `-> ${readlinkSync(p)}` : st.isDirectory() ? 'dir' : `${st.size}b`;
    out.push(`${rel} ${(st.mode & 0o7777).toString(8)} ${what}`);
    if (st.isDirectory()) for (const c of readdirSync(p).sort()) visit(join(p, c), `${rel}/${c}`);
  };
  visit(dir, '.');
  return out;
}

/** Paths outside `rootfsParent` where an escaping entry named `${marker}…` would land. */
export function escapedMarkers(marker: string, dirs: string[]): string[] {
  const found: string[] = [];
  for (const d of ['/', '/tmp', '/etc', ...dirs]) {
    if (!existsSync(d)) continue;
    for (const c of readdirSync(d)) if (c.startsWith(marker)) found.push(join(d, c));
  }
  return found;
}
