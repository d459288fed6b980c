// warmRemote(): an image's layers are opened (footer, TOC, prefetch) all at once, before their
// mounts, which still go one by one on their parents.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { mountAll, unmountAll } from "../../../core/snapshot/mount.ts";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { fuseMountsUnder, layerTar, newSnapshotter, noise, pushEstargz, testConfig, via, type PushedLayer } from "./helpers.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let lower: PushedLayer;
let upper: PushedLayer;
let spare: PushedLayer;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = startFaultProxy(reg.host);
  lower = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "bin", type: "dir" }, { name: "bin/tool", data: noise(300_000, 1), mode: 0o755 }]), { chunkSize: 1 << 16, prioritizedFiles: ["bin/tool"] });
  upper = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "etc", type: "dir" }, { name: "etc/conf", data: "warm\n" }, { name: "etc/big", data: noise(400_000, 2) }]), { chunkSize: 1 << 16, prioritizedFiles: ["etc/conf"] });
  spare = await pushEstargz(reg.host, "warm/img", layerTar([{ name: "unused", data: "never mounted\n" }]));
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
