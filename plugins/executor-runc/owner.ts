// Which process owns a bundle: its pid and start time (so a reused pid is not taken for the
// owner). Stale-container cleanup leaves alone what a live process is still running.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OWNER_FILE = 'owner';

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

export function writeOwner(bundle: string): void {
  writeFileSync(join(bundle, OWNER_FILE), `${process.pid} ${startTime(process.pid) ?? ''}\n`);
}

/** True when the process that wrote the bundle's owner file is still running (not us after a
 *  restart: same pid and start time). */
export function ownerAlive(bundle: string): boolean {
  let text: string;
  try {
    text = readFileSync(join(bundle, OWNER_FILE), 'utf8');
  } catch {
    return false;
  }
  const [pid, start] = text.trim().split(' ');
  if (!/^[0-9]+$/.test(pid ?? '') || !start) return false;
  return startTime(Number(pid)) === start;
}
