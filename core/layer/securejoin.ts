// Resolving archive names inside a root directory the way a chroot would: ".." stops at the root,
// absolute names and absolute symlink targets start from the root, so no path can leave it.
import { lstatSync, readlinkSync } from 'node:fs';
import { join, posix } from 'node:path';

/** "../a//b/./c/" → "a/b/c"; "/" or "." → "" (the root itself). */
export function cleanName(name: string): string {
  return posix.normalize(`/${name}`).replace(/^\/+/, '').replace(/\/+$/, '');
}

const MAX_LINKS = 255;

/**
 * The host path of `name` inside `root`, with every symlink on the way resolved within `root`.
 * The last component is followed only when `followFinal` (creating or replacing it must not
 * follow it). Missing components are kept as they are.
 */
export function resolveInRoot(root: string, name: string, followFinal = false): string {
  const done: string[] = [];
  const todo = cleanName(name).split('/').filter((c) => c !== '');
  let links = 0;
  while (todo.length > 0) {
    const comp = todo.shift()!;
    if (comp === '.') continue;
    if (comp === '..') {
      done.pop();
      continue;
    }
    const host = join(root, ...done, comp);
    const isFinal = todo.length === 0;
    let target: string | undefined;
    if (!isFinal || followFinal) {
      try {
        if (lstatSync(host).isSymbolicLink()) target = readlinkSync(host);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw e;
      }
    }
    if (target === undefined) {
      done.push(comp);
      continue;
    }
    if (++links > MAX_LINKS) throw new Error(`too many levels of symbolic links resolving ${JSON.stringify(name)}`);
    if (target.startsWith('/')) done.length = 0;
    todo.unshift(...target.split('/').filter((c) => c !== ''));
  }
  return join(root, ...done);
}
