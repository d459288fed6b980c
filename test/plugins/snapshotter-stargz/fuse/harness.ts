// Shared helpers for the FUSE tests: the sample tree, temp dirs, shell commands.
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mountFuse } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import type { FuseMount, MountFuseParams } from "../../../../plugins/snapshotter-stargz/fuse/types.ts";
import type { MemFsInit, SpecEntry } from "./memfs.ts";

export const MEMFS_MODULE = new URL("./memfs.ts", import.meta.url).pathname;
export const BIG_SIZE = 5 * 1024 * 1024 + 12345;

/** Linux new_encode_dev, as stat(2) reports st_rdev. */
export function makedev(major: number, minor: number): number {
  return (minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12);
}

export const SAMPLE: SpecEntry[] = [
  { path: "/etc", type: "dir", perm: 0o755 },
  { path: "/etc/hostname", type: "file", content: { kind: "text", text: "edgebuild\n" }, mtimeSec: 1_600_000_000, mtimeNsec: 123_456_789 },
  { path: "/etc/shadow", type: "file", perm: 0o640, uid: 0, gid: 42, content: { kind: "text", text: "root:*:19000::::::\n" } },
  { path: "/bin", type: "dir" },
  { path: "/bin/su", type: "file", perm: 0o4755, content: { kind: "text", text: "#!/bin/sh\n" } },
  { path: "/bin/sh", type: "symlink", target: "/bin/busybox" },
  { path: "/bin/busybox", type: "file", perm: 0o755, content: { kind: "text", text: "busybox" } },
  { path: "/bin/hard", type: "hardlink", target: "/bin/busybox" },
  { path: "/tmp", type: "dir", perm: 0o1777 },
  { path: "/home", type: "dir" },
  { path: "/home/nobody", type: "dir", perm: 0o700, uid: 65534, gid: 65534, mtimeSec: 946_684_800 },
  { path: "/home/nobody/.profile", type: "file", perm: 0o600, uid: 65534, gid: 65534, content: { kind: "text", text: "PS1=$ \n" } },
  { path: "/dev", type: "dir" },
  { path: "/dev/null", type: "char", perm: 0o666, rdev: makedev(1, 3) },
  { path: "/dev/big", type: "char", perm: 0o600, rdev: makedev(259, 300) },
  { path: "/dev/pipe", type: "fifo", perm: 0o620 },
  { path: "/data", type: "dir" },
  { path: "/data/empty", type: "file", content: { kind: "text", text: "" } },
  { path: "/data/big.bin", type: "file", content: { kind: "pattern", size: BIG_SIZE } },
  { path: "/data/tagged", type: "file", content: { kind: "text", text: "x" }, xattrs: { "user.mime": "text/plain", "user.empty": "", "trusted.note": "t" } },
  { path: "/data/slow", type: "file", content: { kind: "text", text: "slow data\n" }, readDelayMs: 2000 },
  { path: "/data/space name", type: "file", content: { kind: "text", text: "spaced\n" } },
  { path: "/data/ünïcødé", type: "file", content: { kind: "text", text: "utf8\n" } },
];

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `edgebuild-fuse-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface ShResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a shell command; async so the test thread stays free (the server lives in workers anyway). */
export async function sh(cmd: string): Promise<ShResult> {
  const p = Bun.spawn(["bash", "-c", cmd], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** Mounts `entries` under a fresh temp dir, runs `body`, and always unmounts and cleans up. */
export async function withMount<T>(
  entries: SpecEntry[],
  body: (m: FuseMount, mnt: string) => Promise<T>,
  extra: Partial<MountFuseParams> = {},
): Promise<T> {
  const dir = tempDir("mnt");
  const mnt = join(dir, "root");
  mkdirSync(mnt);
  const init: MemFsInit = { entries };
  const m = await mountFuse({ mountpoint: mnt, fsModule: MEMFS_MODULE, fsInit: init, onError: (e) => console.error(e), ...extra });
  try {
    return await body(m, mnt);
  } finally {
    await m.unmount();
    removeDir(dir);
  }
}
