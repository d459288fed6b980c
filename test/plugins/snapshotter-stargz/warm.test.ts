// warmRemote(): an image's layers are opened (footer, TOC, prefetch) all at once, before their
// mounts, which still go one by one on their parents.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { mountAll, unmountAll } from "../../../core/snapshot/mount.ts";
import { bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { fuseMountsUnder, layerTar, newSnapshotter, noise, pushEstargz, testConfig, via, type PushedLayer } from "./helpers.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let lower: PushedLayer;
let upper: PushedLayer;
let spare: PushedLayer;
let big: PushedLayer;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = startFaultProxy(reg.host);
  lower = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "bin", type: "dir" }, { name: "bin/tool", data: noise(300_000, 1), mode: 0o755 }]), { chunkSize: 1 << 16, prioritizedFiles: ["bin/tool"] });
  upper = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "etc", type: "dir" }, { name: "etc/conf", data: "warm\n" }, { name: "etc/big", data: noise(400_000, 2) }]), { chunkSize: 1 << 16, prioritizedFiles: ["etc/conf"] });
  spare = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "unused", data: "never mounted\n" }]));
  big = await pushEstargz(reg.host, "warm/big", layerTar([{ name: "a.bin", data: noise(3 << 20, 3) }, { name: "b.bin", data: noise(3 << 20, 4) }, { name: "rest", data: noise(1 << 20, 5) }]), { chunkSize: 1 << 20, prioritizedFiles: ["a.bin", "b.bin"], level: 1 });
});

afterAll(async () => {
  proxy?.stop();
  await reg?.stop();
  removeTempDirs();
});

/** Range requests per blob: those reaching its end (footer/TOC) and the others (payload). */
function requests(p: PushedLayer) {
  const mine = proxy.blobGets.filter((g) => g.path.endsWith(p.layer.descriptor.digest)).map((g) => Number(g.range!.slice(6).split("-")[1]));
  return { tail: mine.filter((last) => last === p.blob.length - 1).length, payload: mine.filter((last) => last < p.blob.length - 1).length };
}

test("[slow] warmRemote fetches every layer's TOC and starts its prefetch before any mount; mounts reuse them", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  try {
    proxy.reset();
    s.warmRemote([via(lower.layer, proxy.host), via(upper.layer, proxy.host), via(spare.layer, proxy.host)]);
    // Nothing is mounted yet, but all three TOCs come in and both prefetches go out.
    for (let i = 0; i < 100 && ((requests(upper)).payload === 0 || (requests(lower)).payload === 0 || (requests(spare)).tail === 0); i++) await Bun.sleep(50);
    for (const p of [lower, upper, spare]) expect((requests(p)).tail).toBeGreaterThanOrEqual(1);
    expect((requests(lower)).payload).toBe(1);
    expect((requests(upper)).payload).toBe(1);
    expect(fuseMountsUnder(root)).toEqual([]);
    const before = proxy.blobGets.length;

    expect(await s.prepareRemote("layer/lower", undefined, via(lower.layer, proxy.host))).toEqual({ lazy: true });
    expect(await s.prepareRemote("layer/upper", "layer/lower", via(upper.layer, proxy.host))).toEqual({ lazy: true });
    // The mounts used the opened layers: no TOC fetched again, the prefetched files need nothing.
    expect(proxy.blobGets.length).toBe(before);
    const target = tempDir("stargz-warm-view-");
    const mounts = await s.view("v", "layer/upper");
    await mountAll(mounts, target);
    try {
      expect(await readFile(join(target, "etc/conf"), "utf8")).toBe("warm\n");
      expect((await readFile(join(target, "bin/tool"))).equals(Buffer.from(noise(300_000, 1)))).toBe(true);
    } finally {
      await unmountAll(target);
    }
    expect(fuseMountsUnder(root).length).toBe(2);
  } finally {
    // The spare layer was opened and never mounted: closing the snapshotter releases it too.
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
}, 60_000);

test("[slow] a layer that fails to open ahead is pulled instead, with the reason, when prepared", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  const forged = { ...lower.layer, descriptor: { ...lower.layer.descriptor, annotations: { "containerd.io/snapshot/stargz/toc.digest": `sha256:${"0".repeat(64)}` } } };
  try {
    s.warmRemote([forged]);
    const r = await s.prepareRemote("layer/forged", undefined, forged);
    expect(r.lazy).toBe(false);
    expect(r.lazy === false && r.reason).toMatch(/TOC digest mismatch/);
    expect(fuseMountsUnder(root)).toEqual([]);
  } finally {
    await s.close();
  }
}, 30_000);

test("[slow] a prefetch larger than one piece goes out in pieces, in blob order, covering the prioritized range", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  try {
    proxy.reset();
    expect(await s.prepareRemote("layer/big", undefined, via(big.layer, proxy.host))).toEqual({ lazy: true });
    for (let i = 0; i < 100 && s.remoteStatus()[0]?.state === "prefetching"; i++) await Bun.sleep(50);
    const reader = await openEstargz(bytesSource(big.blob), { layerDigest: big.layer.descriptor.digest });
    const end = reader.landmark().prefetchEnd!;
    const pieces = proxy.blobGets.map((g) => g.range!.slice(6).split("-").map(Number)).filter(([, last]) => last < big.blob.length - 1);
    // 6 MiB of incompressible data in 2 MiB pieces; two run at once, so arrival may swap neighbours only.
    expect(pieces.length).toBeGreaterThanOrEqual(3);
    for (let i = 0; i + 2 < pieces.length; i++) expect(pieces[i][0]).toBeLessThan(pieces[i + 2][0]);
    const sorted = [...pieces].sort((a, b) => a[0] - b[0]);
    expect(sorted[0][0]).toBe(reader.lookup("a.bin")!.chunks[0].offset);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i][0]).toBe(sorted[i - 1][1] + 1);
    expect(sorted.at(-1)![1]).toBeLessThan(end);
    for (const [first, last] of sorted) expect(last - first + 1).toBeLessThanOrEqual(2 << 20);
  } finally {
    await s.close();
  }
}, 30_000);
