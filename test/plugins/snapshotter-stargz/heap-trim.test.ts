// heap-trim.ts: dead ArrayBuffers of the fetch and decoder threads are collected once they pile
// up (JSC seldom collects a thread that allocates few objects), and a decoder lets go of its
// inflate buffer once idle.
import { expect, test } from "bun:test";
import { heapSize } from "bun:jsc";
import { trimOnGrowth, trimWhenIdle } from "../../../plugins/snapshotter-stargz/heap-trim.ts";

test("trimOnGrowth collects once the heap grew by the threshold", async () => {
  Bun.gc(true);
  const start = heapSize();
  const stop = trimOnGrowth(4 << 20, 20);
  try {
    let dead: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) dead.push(new Uint8Array(2 << 20).fill(i));
    expect(heapSize() - start).toBeGreaterThan(4 << 20);
    dead = [];
    for (let i = 0; i < 25 && heapSize() - start > 4 << 20; i++) await Bun.sleep(20);
    expect(heapSize() - start).toBeLessThan(4 << 20);
  } finally {
    stop();
  }
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
