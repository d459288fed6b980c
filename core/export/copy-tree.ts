// Copies a root filesystem keeping what a container image keeps: modes (setuid included), owners,
// symlinks, hard links (within the copy), device nodes, xattrs and (clamped) mtimes.
import { chmod, copyFile, constants, lchown, link, lutimes, mkdir, readlink, symlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { lgetxattr, llistxattr, lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO, devMajor, devMinor } from '../layer/libc.ts';
import { clampedMtime, walkTree, type TreeEntry } from './walk-tree.ts';

const isRoot = process.getuid?.() === 0;

async function ownAndTime(path: string, e: TreeEntry, epoch?: number): Promise<void> {
  // Unprivileged runs cannot give files away; the copy keeps the runner's ownership then.
  if (isRoot) await lchown(path, e.stat.uid, e.stat.gid);
  if (e.type !== 'symlink') await chmod(path, e.stat.mode & 0o7777); // after chown, which clears setuid
  for (const name of llistxattr(e.abs)) {
    const value = lgetxattr(e.abs, name);
    if (value && (isRoot || name.startsWith('user.'))) lsetxattr(path, name, value);
  }
  const t = clampedMtime(e.stat, epoch);
  const atime = Math.floor(e.stat.atimeMs / 1000);
  if (e.type === 'symlink') await lutimes(path, atime, t);
  else await utimes(path, atime, t);
}

/** Copies the tree under `src` into `dst` (created; must not exist). */
export async function copyTree(src: string, dst: string, epoch?: number, signal?: AbortSignal): Promise<void> {
  await mkdir(dst);
  const dirs: { path: string; e: TreeEntry }[] = [];
  for await (const e of walkTree(src)) {
    signal?.throwIfAborted();
    const to = join(dst, e.rel);
    if (e.hardlinkTo) {
      await link(join(dst, e.hardlinkTo), to);
      continue;
    }
    switch (e.type) {
      case 'dir':
        await mkdir(to);
        dirs.push({ path: to, e }); // times set after the contents are written
        continue;
      case 'file':
        await copyFile(e.abs, to, constants.COPYFILE_FICLONE);
        break;
      case 'symlink':
        await symlink(await readlink(e.abs), to);
        break;
      case 'char':
      case 'block':
      case 'fifo': {
        const kind = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
        mknod(to, kind | (e.stat.mode & 0o7777), devMajor(e.stat.rdev), devMinor(e.stat.rdev));
        break;
      }
      default:
        throw new Error(`export local: ${e.rel}: cannot copy entry of type ${e.type}`);
    }
    await ownAndTime(to, e, epoch);
  }
  for (const { path, e } of dirs.reverse()) await ownAndTime(path, e, epoch);
}
