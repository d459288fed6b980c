// Neighbour fetch over a real registry: after a read miss, the files that follow it in the blob
// come along in one speculative request, up to a big file; off with no_background_fetch or
// neighbor_fetch_size = 0, where a small read fetches only its chunk.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { layerDir, layerTar, newSnapshotter, noise, pushEstargz, readAt, testConfig, via, type PushedLayer } from "./helpers.ts";
import type { StargzConfig } from "../../../plugins/snapshotter-stargz/config.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let pushed: PushedLayer;
const small = (p: string, i: number) => ({ name: `src/${p}${String(i).padStart(2, "0")}.go`, data: noise(8_000, 100 + i + (p === "g" ? 50 : 0)) });
const BEFORE = Array.from({ length: 20 }, (_, i) => small("f", i));
const AFTER = Array.from({ length: 20 }, (_, i) => small("g", i));
const BIG = { name: "src/zz-big.bin", data: noise(2 << 20, 7) };
/** Four 1 MiB chunks, read in scattered places like an executable's pages. */
const EXE = { name: "tool/exe", data: noise(4 << 20, 9) };
/** First in the blob: the background fetch's one request (see mounted()) takes it. */
const DECOY = { name: "a/decoy", data: noise(8_000, 3) };

beforeAll(async () => {
  reg = await startRegistry();
  proxy = startFaultProxy(reg.host);
  pushed = await pushEstargz(reg.host, "lazy/neighbours", layerTar([DECOY, ...BEFORE, BIG, ...AFTER, EXE]), { chunkSize: 1 << 20 });
});

afterAll(async () => {
  proxy?.stop();
  await reg?.stop();
  removeTempDirs();
});

/**
 * Mounts the layer through the counting proxy, requests not grown. When background fetch is on,
 * its first request (one chunk: the decoy) goes out at once, and the next one not within the test.
 */
async function mounted(over: Parameters<typeof testConfig>[0]) {
  const root = tempDir("stargz-");
  const config: StargzConfig = testConfig({ noprefetch: true, background_fetch: { fetch_size: 1, fetch_period_msec: 600_000 }, ...over, blob: { chunk_size: 0, ...over?.blob } });
  const logs: string[] = [];
  const s = newSnapshotter(root, config, logs);
  if (process.env.HB_DEBUG) setInterval(() => logs.splice(0).forEach((l) => console.error("LOG", l)), 50).unref();
  proxy.reset();
  expect(await s.prepareRemote("layer/n", undefined, via(pushed.layer, proxy.host))).toEqual({ lazy: true });
  if (!config.no_background_fetch) expect(await until(() => proxy.blobGets.some((g) => Number(/bytes=(\d+)-/.exec(g.range ?? "")?.[1]) < 1000))).toBe(true);
  // Until the fetched figure stops moving (the decoy's body is in and reported: reports are throttled).
  for (let i = 0, last = -1; i < 20 && s.remoteStatus()[0]?.fetched !== last; i++) {
    last = s.remoteStatus()[0]?.fetched ?? -1;
    await Bun.sleep(250);
  }
  return { s, dir: await layerDir(s, "layer/n") };
}

async function until(cond: () => boolean, ms = 5000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await Bun.sleep(20)) if (cond()) return true;
  return cond();
}

describe("neighbour fetch", () => {
  test("[slow] a miss brings the following small files in one more request, stopping at a big file; bytes are counted", async () => {
    const { s, dir } = await mounted({ no_background_fetch: false });
    try {
      const fetchedBefore = s.remoteStatus()[0].fetched;
      proxy.reset();
      expect((await readFile(join(dir, BEFORE[0].name))).equals(Buffer.from(BEFORE[0].data))).toBe(true);
      expect(await until(() => proxy.blobGets.length >= 2)).toBe(true);
      await Bun.sleep(300); // let the neighbourhood land (and nothing else go out)
      expect(proxy.blobGets, JSON.stringify(proxy.blobGets.map((g) => g.range))).toHaveLength(2);
      for (const f of BEFORE.slice(1)) expect((await readFile(join(dir, f.name))).equals(Buffer.from(f.data))).toBe(true);
      expect(proxy.blobGets).toHaveLength(2); // all on disk already
      // The big file ended the neighbourhood: neither it nor what follows it was fetched.
      expect(proxy.blobBytes).toBeLessThan(BIG.data.length);
      await readFile(join(dir, AFTER[0].name));
      expect(proxy.blobGets.length).toBeGreaterThan(2);
      // The speculative bytes count in the layer's fetched figure like any other.
      await Bun.sleep(300); // status reports are throttled to one per 200 ms
      expect(s.remoteStatus()[0].fetched - fetchedBefore).toBe(proxy.blobBytes);
    } finally {
      await s.close();
    }
  }, 30_000);

  test.each([
    ["no_background_fetch", { no_background_fetch: true }],
    ["neighbor_fetch_size = 0", { no_background_fetch: false, blob: { neighbor_fetch_size: 0 } }],
  ] as const)("[slow] with %s a small read fetches only its chunk", async (_name, over) => {
    const { s, dir } = await mounted(over as Parameters<typeof testConfig>[0]);
    try {
      proxy.reset();
      expect((await readFile(join(dir, BEFORE[0].name))).equals(Buffer.from(BEFORE[0].data))).toBe(true);
      await Bun.sleep(300);
      expect(proxy.blobGets).toHaveLength(1);
      expect(proxy.blobBytes).toBeLessThan(9_000);
      await readFile(join(dir, BEFORE[1].name));
      expect(proxy.blobGets).toHaveLength(2);
    } finally {
      await s.close();
    }
  }, 30_000);

  test.each([
    ["on", { no_background_fetch: false }, true],
    ["off (no_background_fetch)", { no_background_fetch: true }, false],
  ] as const)("[slow] a big file read in scattered places gets its other chunks at the second miss: %s", async (_name, over, whole) => {
    const { s, dir } = await mounted(over as Parameters<typeof testConfig>[0]);
    const exe = join(dir, EXE.name);
    const at = async (offset: number) => expect((await readAt(exe, offset, 4096)).equals(Buffer.from(EXE.data.subarray(offset, offset + 4096)))).toBe(true);
    try {
      proxy.reset();
      await at(100); // chunk 0: no neighbours (the file is big), no whole file yet
      await Bun.sleep(200);
      expect(proxy.blobGets).toHaveLength(1);
      await at((2 << 20) + 100); // chunk 2, not after chunk 1: scattered
      if (whole) expect(await until(() => proxy.blobGets.length >= 4)).toBe(true); // chunks 1 and 3, apart
      await Bun.sleep(200);
      const before = proxy.blobGets.length;
      await at((1 << 20) + 100);
      await at((3 << 20) + 100);
      expect(proxy.blobGets.length - before).toBe(whole ? 0 : 2);
    } finally {
      await s.close();
    }
  }, 30_000);
});
