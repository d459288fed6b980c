import { expect, test } from "bun:test";
import { backgroundFetch, DemandTracker } from "../../../plugins/snapshotter-stargz/prefetch.ts";
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
