import { expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { FUSE_BUILD_ENTRYPOINTS } from "../../../../plugins/snapshotter-stargz/fuse/module-url.ts";
import { readMountInfo } from "../../../../plugins/snapshotter-stargz/fuse/mountinfo.ts";
import { BIG_SIZE, removeDir, tempDir } from "./harness.ts";
import { patternBytes } from "./memfs.ts";

const repo = resolve(import.meta.dir, "../../../..");

test.skipIf(process.getuid?.() !== 0)("[slow] a bun build --compile binary mounts and serves through its embedded workers", async () => {
  const dir = tempDir("compiled");
  try {
    const bin = join(dir, "fuse-smoke");
    const build = Bun.spawnSync([
      process.execPath, "build", "--compile", "--outfile", bin,
      "test/plugins/snapshotter-stargz/fuse/compiled-entry.ts",
      ...FUSE_BUILD_ENTRYPOINTS,
      "test/plugins/snapshotter-stargz/fuse/memfs.ts",
    ], { cwd: repo, stderr: "pipe", stdout: "pipe" });
    expect(build.stderr.toString()).not.toContain("error");
    expect(build.exitCode).toBe(0);
    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    // Run from / so nothing can be found relative to the working directory by accident.
    const run = Bun.spawn([bin, mnt], { cwd: "/", stdout: "pipe", stderr: "pipe" });
    const timer = setTimeout(() => run.kill(), 30_000);
    const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
    clearTimeout(timer);
    expect(err).toBe("");
    expect(code).toBe(0);
    const digest = createHash("sha256").update(patternBytes(0, BIG_SIZE)).digest("hex");
    expect(out).toBe(`edgebuild\n700 65534\n${digest}  -\n`);
    expect(readMountInfo().some((e) => e.mountpoint === mnt)).toBe(false);
  } finally {
    removeDir(dir);
  }
}, 120_000); // compiling a binary alone takes several seconds on a loaded machine
