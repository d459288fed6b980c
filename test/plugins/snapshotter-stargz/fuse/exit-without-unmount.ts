// Child process for the exit-path test: mounts, proves the mount serves, then exits without unmounting.
import { mountFuse } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import { MEMFS_MODULE, SAMPLE } from "./harness.ts";

const mountpoint = process.argv[2];
if (!mountpoint) throw new Error("exit-without-unmount.ts: usage: <mountpoint> [throw]");
await mountFuse({ mountpoint, fsModule: MEMFS_MODULE, fsInit: { entries: SAMPLE } });
const p = Bun.spawn(["cat", `${mountpoint}/etc/hostname`], { stdout: "pipe" });
process.stdout.write(await new Response(p.stdout).text());
await p.exited;
if (process.argv[3] === "throw") throw new Error("exit-without-unmount.ts: deliberate crash");
process.exit(0);
