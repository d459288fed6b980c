// Entry of the compiled-binary smoke test: mounts the sample tree at argv[2], reads through it, unmounts.
import { mountFuse } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import { SAMPLE } from "./harness.ts";

const mountpoint = process.argv[2];
if (!mountpoint) throw new Error("compiled-entry.ts: usage: <binary> <mountpoint>");
const m = await mountFuse({
  mountpoint,
  // Relative to the repository root: resolves inside the binary's embedded filesystem.
  fsModule: "test/plugins/snapshotter-stargz/fuse/memfs.ts",
  fsInit: { entries: SAMPLE },
});
try {
  const p = Bun.spawn(["sh", "-c", `cat '${mountpoint}/etc/hostname' && stat -c '%a %u' '${mountpoint}/home/nobody' && sha256sum < '${mountpoint}/data/big.bin'`], { stdout: "pipe" });
  process.stdout.write(await new Response(p.stdout).text());
  await p.exited;
} finally {
  await m.unmount();
}
