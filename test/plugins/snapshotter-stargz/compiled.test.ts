// The lazy layer inside a `bun build --compile` binary: the fetch thread and the FUSE workers start
// from the embedded copy of lazyfs/fs.ts, as in the shipped edgebuild binary.
import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { fuseMountsUnder, layerTar, pushEstargz } from "./helpers.ts";
import { BIG, CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

let reg: TestRegistry | undefined;
afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

test.skipIf(process.getuid?.() !== 0)("[slow] a compiled binary mounts a lazy layer and reads it from its main thread", async () => {
  reg = await startRegistry();
  const pushed = await pushEstargz(reg.host, "lazy/compiled", layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK });
  const dir = tempDir("compiled-");
  const bin = join(dir, "lazy-entry");
  const build = Bun.spawnSync([
    process.execPath, "build", "--compile", "--outfile", bin,
    "test/plugins/snapshotter-stargz/compiled-entry.ts",
    "plugins/snapshotter-stargz/fuse/reader-thread.ts",
    "plugins/snapshotter-stargz/fuse/handler-thread.ts",
    "plugins/snapshotter-stargz/lazyfs/fs.ts",
  ], { cwd: join(import.meta.dir, "../../.."), stderr: "pipe", stdout: "pipe" });
  expect(build.exitCode, build.stderr.toString()).toBe(0);
  const root = join(dir, "root");
  const run = Bun.spawn([bin, root, JSON.stringify(pushed.layer), "data/big.bin"], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]);
  expect(code, err).toBe(0);
  const want = createHash("sha256").update(BIG).digest("hex");
  const [first, second] = out.trim().split("\n").map((l) => l.split(" "));
  expect([first[0], second[0]]).toEqual([want, want]);
  expect(Number(second[1])).toBeGreaterThan(0); // the warm pass: spliced replies from the binary's reader thread
  expect(fuseMountsUnder(root)).toEqual([]);
}, 120_000);
