// Moves a finished tree into an existing directory, as BuildKit's local exporter merges into its
// destination: entries of the same name are replaced, others are left alone. Everything moved is
// already complete (it was copied to a sibling first), so each step is a rename.
import { chmod, chown, lstat, readdir, rename, rm, rmdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';

const isRoot = process.getuid?.() === 0;

/** Merges `src` into `dest` and removes `src`; `dest`'s own metadata is left as it is. */
export async function mergeInto(src: string, dest: string): Promise<void> {
  await mergeDir(src, dest, false);
}

async function mergeDir(src: string, dest: string, takeMetadata: boolean): Promise<void> {
  for (const name of await readdir(src)) {
    const from = join(src, name);
    const to = join(dest, name);
    const [s, d] = await Promise.all([lstat(from), lstat(to).catch(() => undefined)]);
    if (s.isDirectory() && d?.isDirectory()) {
      await mergeDir(from, to, true);
      continue;
    }
    // rename cannot put a file over a directory or the other way round: clear the old entry first.
    if (d && (s.isDirectory() || d.isDirectory())) await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
  if (takeMetadata) {
    // A merged subdirectory takes the metadata of the exported one.
    const st = await lstat(src);
    if (isRoot) await chown(dest, st.uid, st.gid);
    await chmod(dest, st.mode & 0o7777);
    await utimes(dest, st.atime, st.mtime);
  }
  await rmdir(src);
}
