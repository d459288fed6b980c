// Finding and tearing down our FUSE mounts through /proc/self/mountinfo and fusectl.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { MNT_DETACH, mount, umount2 } from "./libc.ts";

export const FUSE_FSTYPE = "fuse.edgebuild";
const FUSECTL_DIR = "/sys/fs/fuse/connections";

export interface MountInfoEntry {
  mountpoint: string;
  fstype: string;
  source: string;
  major: number;
  minor: number;
}

/** mountinfo escapes space, tab, newline and backslash as \ooo. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export function readMountInfo(text = readFileSync("/proc/self/mountinfo", "utf8")): MountInfoEntry[] {
  const out: MountInfoEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const sep = fields.indexOf("-");
    if (sep < 6 || fields.length < sep + 3) continue;
    const [major, minor] = fields[2].split(":").map(Number);
    out.push({ mountpoint: unescape(fields[4]), fstype: fields[sep + 1], source: unescape(fields[sep + 2]), major, minor });
  }
  return out;
}

/** Device of our FUSE mount at `mountpoint`; its minor is the connection number in fusectl. */
export function deviceOf(mountpoint: string): { major: number; minor: number } | undefined {
  const e = readMountInfo().filter((x) => x.mountpoint === mountpoint && x.fstype === FUSE_FSTYPE).at(-1);
  return e ? { major: e.major, minor: e.minor } : undefined;
}

/** The FUSE connection number of the mount at `mountpoint`, if mounted. */
export function connectionOf(mountpoint: string): number | undefined {
  return deviceOf(mountpoint)?.minor;
}

/** Sets the mount's readahead through its backing device info ("major:minor" in /sys/class/bdi). */
export function setReadAhead(dev: { major: number; minor: number }, kb: number, onError?: (m: string) => void): void {
  const file = `/sys/class/bdi/${dev.major}:${dev.minor}/read_ahead_kb`;
  try {
    writeFileSync(file, String(kb));
  } catch (e) {
    onError?.(`fuse/mountinfo.ts: cannot set ${file} to ${kb}: ${(e as Error).message}`);
  }
}

/** Aborts a FUSE connection: pending and future requests fail, the server's device reads end. */
export function abortConnection(conn: number): boolean {
  if (!existsSync(`${FUSECTL_DIR}/${conn}`)) {
    try {
      mount("fusectl", FUSECTL_DIR, "fusectl", 0n, "");
    } catch {
      // already mounted elsewhere or not permitted: the existence check below decides
    }
  }
  const abortFile = `${FUSECTL_DIR}/${conn}/abort`;
  if (!existsSync(abortFile)) return false;
  writeFileSync(abortFile, "1");
  return true;
}

/** Lazily detaches every fuse.edgebuild mount at or under `prefixDir` (deepest first). Returns them. */
export function cleanupStaleMounts(prefixDir: string): string[] {
  const prefix = prefixDir.endsWith("/") ? prefixDir : `${prefixDir}/`;
  const stale = readMountInfo()
    .filter((e) => e.fstype === FUSE_FSTYPE && (e.mountpoint === prefixDir || e.mountpoint.startsWith(prefix)))
    .map((e) => e.mountpoint)
    .sort((a, b) => b.length - a.length);
  const detached: string[] = [];
  for (const mp of new Set(stale)) {
    const e = umount2(mp, MNT_DETACH);
    if (e !== 0) throw new Error(`fuse/mountinfo.ts: cannot detach stale mount ${mp}: errno ${e}`);
    detached.push(mp);
  }
  return detached;
}
