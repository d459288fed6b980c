import { expect, test } from "bun:test";
import { backgroundFetch, DemandTracker, NeighbourFetch } from "../../../plugins/snapshotter-stargz/prefetch.ts";
import type { LayerFetcher } from "../../../plugins/snapshotter-stargz/fetcher.ts";

test("DemandTracker is quiet only when no demand runs and the last ended silenceMs ago", async () => {
  let now = 1000;
  const d = new DemandTracker(500, () => now);
  expect(d.quietFor()).toBe(Infinity);
  let finish!: () => void;
  const work = d.during(new Promise<void>((r) => (finish = r)));
  now = 5000;
  expect(d.quietFor()).toBe(0);
  finish();
  await work;
  expect(d.quietFor()).toBe(0); // ended "now"
  now = 5300;
  expect(d.quietFor()).toBe(300);
  // A failed demand ends too, and the failure still reaches the caller.
  const failed = d.during(Promise.reject(new Error("boom")));
  await expect(failed).rejects.toThrow("boom");
  expect(d.quietFor()).toBe(0);
  now = 5900;
  expect(d.quietFor()).toBe(600);
});

/** A fetcher over `n` chunks of 100 bytes, recording what is ensured and when. */
function fakeFetcher(n: number, log: { ids: number[]; at: number }[]) {
  const cached = new Set<number>();
  const chunks = Array.from({ length: n }, (_, id) => ({ id, offset: id * 100, compressedEnd: id * 100 + 100 }));
  return {
    chunks,
    isCached: (id: number) => cached.has(id),
    isInflight: () => false,
    get complete() {
      return cached.size === n;
    },
    async ensure(ids: number[]) {
      log.push({ ids, at: performance.now() });
      for (const id of ids) cached.add(id);
    },
  } as unknown as LayerFetcher;
}

test("background fetch waits for quiet before every request and stops when told", async () => {
  const demand = new DemandTracker(80);
  const log: { ids: number[]; at: number }[] = [];
  const fetcher = fakeFetcher(4, log);
  let release!: () => void;
  const busy = demand.during(new Promise<void>((r) => (release = r)));
  const states: string[] = [];
  const t0 = performance.now();
  const bg = backgroundFetch(fetcher, { periodMs: 1, requestBytes: 200, stopped: () => false, onState: (s) => states.push(s), demand });
  await Bun.sleep(150);
  expect(log).toEqual([]); // a read (or prefetch) is under way: nothing goes out
  release();
  await busy;
  const released = performance.now();
  await bg;
  expect(log.map((l) => l.ids)).toEqual([[0, 1], [2, 3]]);
  expect(log[0].at - released).toBeGreaterThanOrEqual(70);
  expect(log[0].at - t0).toBeGreaterThanOrEqual(150);
  expect(states).toEqual(["background", "complete"]);

  // Stopped while waiting for quiet: returns without fetching.
  const log2: { ids: number[]; at: number }[] = [];
  let stop = false;
  const hold = demand.during(new Promise<void>(() => {}));
  const bg2 = backgroundFetch(fakeFetcher(2, log2), { periodMs: 1, requestBytes: 200, stopped: () => stop, onState: () => {}, demand });
  await Bun.sleep(60);
  stop = true;
  await bg2;
  expect(log2).toEqual([]);
  void hold;
});

test("NeighbourFetch: after a lone miss the base window; misses walking forward double it up to the max; at most two at once, the latest misses queued", async () => {
  // 1,000 chunks of 1,000 bytes; following() takes whatever lies inside the window.
  const chunks = Array.from({ length: 1000 }, (_, id) => ({ id, offset: id * 1000, compressedEnd: id * 1000 + 1000 }));
  const calls: { after: number; window: number }[] = [];
  const gates: (() => void)[] = [];
  const fetcher = {
    chunks,
    following: (id: number, bytes: number) => chunks.filter((c) => c.offset >= chunks[id].compressedEnd && c.compressedEnd - chunks[id].compressedEnd <= bytes).map((c) => c.id),
    ensure: (_ids: number[], how?: { speculative?: boolean }) => {
      expect(how?.speculative).toBe(true);
      return new Promise<void>((r) => gates.push(r));
    },
  } as unknown as LayerFetcher;
  const n = new NeighbourFetch(fetcher, { baseBytes: 10_000, maxBytes: 40_000, bigFileBytes: 1 << 20, stopped: () => false, onFetch: (after, _ids, window) => calls.push({ after, window }) });
  const settle = async () => {
    gates.splice(0).forEach((g) => g());
    await Bun.sleep(1);
  };
  n.missed([0]);
  expect(calls).toEqual([{ after: 0, window: 10_000 }]);
  await settle();
  n.missed([11]); // just past the first neighbourhood (chunks 1-10): the reader walks on
  await settle();
  n.missed([32]);
  await settle();
  n.missed([73]);
  await settle();
  n.missed([114]);
  await settle();
  expect(calls.map((c) => c.window)).toEqual([10_000, 20_000, 40_000, 40_000, 40_000]);
  n.missed([600]); // elsewhere: a new run, base window
  expect(calls.at(-1)).toEqual({ after: 600, window: 10_000 });
  n.missed([800]);
  n.missed([900]); // two on the way: queued
  n.missed([950]);
  expect(calls.map((c) => c.after)).toEqual([0, 11, 32, 73, 114, 600, 800]);
  await settle();
  expect(calls.map((c) => c.after).slice(7)).toEqual([950, 900]); // latest first
  await settle();
  await settle();
  // A miss of several chunks counts from its last one.
  n.missed([400, 402, 401]);
  expect(calls.at(-1)).toEqual({ after: 402, window: 10_000 });
  await settle();
});
