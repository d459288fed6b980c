// Destinations are written next to where they belong and renamed into place, so a failed or
// aborted export leaves the destination as it was (rename within one directory is atomic).
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ownedPrefix, sweepDeadEntries } from '../layer/owner.ts';

const siblingPrefix = (abs: string) => `.${basename(abs)}.edgebuild-tmp-`;

/** A hidden sibling of `dest` (same directory, so the final rename stays on one filesystem). */
export function tempSibling(dest: string): string {
  const abs = resolve(dest);
  return join(dirname(abs), `${ownedPrefix(siblingPrefix(abs))}${randomBytes(6).toString('hex')}`);
}

/**
 * Runs `write(tmp)` on a temp sibling of `dest`, then renames it over `dest`. Any failure removes
 * the temp path and rethrows; `dest` is untouched until the rename. An existing directory at
 * `dest` is replaced whole (moved aside first, removed after the new one is in place).
 */
export async function writeAtomically<T>(dest: string, write: (tmp: string) => Promise<T>): Promise<T> {
  const abs = resolve(dest);
  await mkdir(dirname(abs), { recursive: true });
  // What an export killed half-way left next to this destination.
  await sweepDeadEntries(dirname(abs), [siblingPrefix(abs)]);
  const tmp = tempSibling(abs);
  let result: T;
  try {
    result = await write(tmp);
    await replacePath(tmp, abs);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  }
  return result;
}

/** Renames `from` over `to`; a directory at `to` is swapped out rather than merged. */
export async function replacePath(from: string, to: string): Promise<void> {
  const old = await lstat(to).catch(() => undefined);
  if (!old?.isDirectory()) {
    await rename(from, to);
    return;
  }
  const aside = tempSibling(to);
  await rename(to, aside);
  try {
    await rename(from, to);
  } catch (e) {
    await rename(aside, to); // put the old one back
    throw e;
  }
  await rm(aside, { recursive: true, force: true });
}
