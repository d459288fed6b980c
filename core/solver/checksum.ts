// Content checksums of local source paths, for cache keys: a COPY's key depends on the bytes and
// metadata of exactly the files it copies (after .dockerignore), so editing another file in the
// context does not invalidate it. File hashes are memoised by (path, size, mtime, inode).
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { resolveInRoot } from '../layer/securejoin.ts';
import { expandSource, type SourceTree } from './fileops.ts';

const fileHashes = new Map<string, string>();

function hashFile(abs: string, st: fs.Stats): string {
  const memo = `${abs}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
  let h = fileHashes.get(memo);
  if (!h) {
    h = new Bun.CryptoHasher('sha256').update(fs.readFileSync(abs)).digest('hex');
    fileHashes.set(memo, h);
  }
  return h;
}

function walk(src: SourceTree, abs: string, rel: string, out: ReturnType<typeof createHash>): void {
  const st = fs.lstatSync(abs);
  const local = src.local;
  // Owners of local files do not reach the image (they become root), so they do not count.
  out.update(`${rel}\0${st.mode}\0${local ? '' : `${st.uid}:${st.gid}`}\0`);
  if (st.isSymbolicLink()) out.update(`L${fs.readlinkSync(abs)}\0`);
  else if (st.isFile()) out.update(`F${hashFile(abs, st)}\0`);
  else if (st.isDirectory()) {
    for (const name of fs.readdirSync(abs).sort()) {
      const childRel = rel ? `${rel}/${name}` : name;
      const isDir = fs.lstatSync(`${abs}/${name}`).isDirectory();
      if (src.filter?.excluded(childRel, isDir) && !(isDir && src.filter.mayContainIncluded?.(childRel))) continue;
      walk(src, `${abs}/${name}`, childRel, out);
    }
  } else out.update(`D${st.rdev}\0`);
}

/** sha256 over the given source patterns (wildcards expanded) as COPY would read them. */
export function checksumPaths(src: SourceTree, patterns: string[], followSymlinks = true): string {
  const h = createHash('sha256');
  for (const pattern of patterns) {
    h.update(`P${pattern}\0`);
    for (const rel of expandSource(src, pattern)) {
      const abs = resolveInRoot(src.root, rel, followSymlinks);
      if (!fs.existsSync(abs)) {
        h.update(`missing ${rel}\0`);
        continue;
      }
      walk(src, abs, posix.normalize(rel).slice(1), h);
    }
  }
  return 'sha256:' + h.digest('hex');
}
