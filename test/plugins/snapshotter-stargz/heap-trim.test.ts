// heap-trim.ts: dead ArrayBuffers of the fetch and decoder threads are collected once they pile
// up (JSC seldom collects a thread that allocates few objects), and a decoder lets go of its
// inflate buffer once idle.
import { expect, test } from "bun:test";
import { heapSize } from "bun:jsc";
import { join } from "node:path";
import { trimWhenIdle } from "../../../plugins/snapshotter-stargz/heap-trim.ts";

test("trimOnGrowth collects once the heap grew by the threshold", () => {
  const r = Bun.spawnSync([process.execPath, join(import.meta.dir, "heap-trim-child.ts")], { stderr: "pipe" });
  expect(r.exitCode).toBe(0);
  const { grew, after } = JSON.parse(r.stdout.toString()) as { grew: number; after: number };
  expect(grew).toBeGreaterThan(4 << 20);
  expect(after).toBeLessThan(4 << 20);
});

test("trimWhenIdle releases and collects only once the work stopped", async () => {
  let released = 0;
  let kept: Uint8Array | undefined = new Uint8Array(32 << 20).fill(1);
  Bun.gc(true);
  const before = heapSize();
  const trim = trimWhenIdle(60, () => {
    released++;
    kept = undefined;
  });
  for (let i = 0; i < 5; i++) {
    trim.busy();
    await Bun.sleep(20); // busy again before the idle time is up
  }
  expect(released).toBe(0);
  expect(kept?.length).toBe(32 << 20);
  await Bun.sleep(150);
  expect(released).toBe(1);
  expect(before - heapSize()).toBeGreaterThan(30 << 20);
});
