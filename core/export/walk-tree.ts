// Walks a root filesystem in a fixed order (names sorted bytewise, a directory before its
// contents) and tells which regular files are hard links to one seen earlier.
import { lstat, readdir } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { join } from 'node:path';
import type { TarEntryType } from '../layer/tar-header.ts';

export interface TreeEntry {
  /** Path relative to the root, "/"-separated, no leading "./". */
  rel: string;
  abs: string;
  stat: Stats;
  type: TarEntryType;
  /** For a regular file whose inode was already visited: the first path of that inode. */
  hardlinkTo?: string;
}

function typeOf(st: Stats): TarEntryType | undefined {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  return undefined; // sockets are not archived (as tar and BuildKit do)
}

const byteOrder = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

export async function* walkTree(root: string): AsyncGenerator<TreeEntry> {
  const inodes = new Map<string, string>();
  async function* visit(dirAbs: string, dirRel: string): AsyncGenerator<TreeEntry> {
    const names = (await readdir(dirAbs)).sort(byteOrder);
    for (const name of names) {
      const abs = join(dirAbs, name);
      const rel = dirRel ? `${dirRel}/${name}` : name;
      const st = await lstat(abs);
      const type = typeOf(st);
      if (!type) continue;
      let hardlinkTo: string | undefined;
      if (type === 'file' && st.nlink > 1) {
        const key = `${st.dev}:${st.ino}`;
        hardlinkTo = inodes.get(key);
        if (!hardlinkTo) inodes.set(key, rel);
      }
      yield { rel, abs, stat: st, type, hardlinkTo };
      if (type === 'dir') yield* visit(abs, rel);
    }
  }
  const st = await lstat(root);
  if (!st.isDirectory()) throw new Error(`export: rootfs ${root} is not a directory`);
  yield* visit(root, '');
}

/** mtime in seconds, clamped to SOURCE_DATE_EPOCH when given (BuildKit does this for local/tar output). */
export function clampedMtime(st: Stats, epoch?: number): number {
  const t = Math.floor(st.mtimeMs / 1000);
  return epoch !== undefined && t > epoch ? epoch : t;
}
