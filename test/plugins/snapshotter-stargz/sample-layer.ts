// The layer most tests mount: every entry type, odd modes and owners, xattrs, hardlinks, a long
// name, whiteouts and an opaque dir, and a file big enough for several chunks.
import { noise, type EntrySpec } from "./helpers.ts";

export const CHUNK = 1 << 20;
export const BIG = noise(3 * CHUNK + 12345, 7);

export const SAMPLE_ENTRIES: EntrySpec[] = [
  { name: "etc", type: "dir", mtime: 1_600_000_000 },
  { name: "etc/hostname", data: "edgebuild\n", mtime: 1_650_000_001 },
  { name: "etc/shadow", data: "root:*:19000::::::\n", mode: 0o640, gid: 42 },
  { name: "etc/.wh.passwd", data: "" },
  { name: "bin", type: "dir" },
  { name: "bin/busybox", data: noise(70_000, 3), mode: 0o755 },
  { name: "bin/ls", type: "link", linkname: "bin/busybox" },
  { name: "bin/cat", type: "link", linkname: "bin/busybox" },
  { name: "bin/sh", type: "symlink", linkname: "busybox" },
  { name: "bin/su", data: "#!/bin/sh\n", mode: 0o4755 },
  { name: "dev", type: "dir" },
  { name: "dev/null", type: "char", mode: 0o666, devmajor: 1, devminor: 3 },
  { name: "dev/sda", type: "block", mode: 0o660, devmajor: 8, devminor: 0, gid: 6 },
  { name: "dev/pipe", type: "fifo", mode: 0o620 },
  { name: "tmp", type: "dir", mode: 0o1777 },
  { name: "home", type: "dir" },
  { name: "home/user", type: "dir", mode: 0o700, uid: 1000, gid: 2000, mtime: 946_684_800 },
  { name: "home/user/.profile", data: "PS1=$ \n", mode: 0o600, uid: 1000, gid: 2000 },
  { name: "data", type: "dir" },
  { name: "data/empty", data: "" },
  { name: "data/big.bin", data: BIG },
  { name: "data/tagged", data: "x", xattrs: { "user.mime": new TextEncoder().encode("text/plain"), "trusted.note": new Uint8Array([0, 1, 2]) } },
  { name: `data/${"long-name-".repeat(15)}end`, data: "long\n" },
  { name: "opq", type: "dir" },
  { name: "opq/.wh..wh..opq", data: "" },
  { name: "opq/kept", data: "kept\n" },
  { name: ".wh.gone", data: "" },
];
