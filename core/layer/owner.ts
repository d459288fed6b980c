// Which process made a temp dir or a snapshot that is not finished yet: "<pid>.<start time>" (the
// start time tells a reused pid apart). What a dead process left behind is swept at the next
// start; what a live one (another edgebuild on the same root) is using stays.
import { lstatSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mountPoints, unmountAll } from '../snapshot/mount.ts';

/** Snapshot label naming the owner of an active or view snapshot. */
export const OWNER_LABEL = 'edgebuild.owner';

/** Start time of a process in clock ticks since boot (field 22 of /proc/PID/stat), if alive. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parens: count fields after the last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

let mine: string | undefined;

/** This process as an owner token. */
export function ownerToken(): string {
  return (mine ??= `${process.pid}.${startTime(process.pid) ?? '0'}`);
}

/** True while the process named by `token` runs (false for malformed tokens). */
export function ownerAlive(token: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(token ?? '');
  return m !== null && startTime(Number(m[1])) === m[2];
}

/** "<prefix><token>-" for temp names, so a sweep can tell whose they are. */
export function ownedPrefix(prefix: string): string {
  return `${prefix}${ownerToken()}-`;
}

/** The owner token in a name made with ownedPrefix(prefix), if it has one. */
export function ownerOf(name: string, prefix: string): string | undefined {
  if (!name.startsWith(prefix)) return undefined;
  return /^(\d+\.\d+)-/.exec(name.slice(prefix.length))?.[1];
}

/**
 * Unmounts and removes the entries of `dir` starting with one of `prefixes` whose owner is dead
 * (or unknown: left by an older version). An entry something is still mounted in stays.
 */
export async function sweepDeadEntries(dir: string, prefixes: string[]): Promise<string[]> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const swept: string[] = [];
  for (const name of names) {
    const prefix = prefixes.find((p) => name.startsWith(p));
    if (prefix === undefined || ownerAlive(ownerOf(name, prefix))) continue;
    const path = join(dir, name);
    await unmountAll(path).catch(() => {});
    // Never rm -rf through a mount: it would delete what the mount shows.
    if (mountPoints().some((p) => p === path || p.startsWith(`${path}/`))) continue;
    try {
      lstatSync(path);
      rmSync(path, { recursive: true, force: true });
      swept.push(name);
    } catch {
      // gone meanwhile
    }
  }
  return swept;
}
