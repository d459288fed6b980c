// warmRemote(): an image's layers are opened (footer, TOC, prefetch) and mounted all at once,
// each in a snapshot without a parent; prepareRemote() then commits them one by one onto their
// parents. A layer that fails falls back to a pull; whatever is never prepared goes at close.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { mountAll, unmountAll } from "../../../core/snapshot/mount.ts";
import { bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import type { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";
import { fuseMountsUnder, layerTar, newSnapshotter, noise, pushEstargz, testConfig, via, type PushedLayer } from "./helpers.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let lower: PushedLayer;
let upper: PushedLayer;
let spare: PushedLayer;
let big: PushedLayer;
let lowerTar: Uint8Array;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = startFaultProxy(reg.host);
  lowerTar = layerTar([{ name: "bin", type: "dir" }, { name: "bin/tool", data: noise(300_000, 1), mode: 0o755 }]);
  lower = await pushEstargz(reg.host, "warm/img", lowerTar, { chunkSize: 1 << 16, prioritizedFiles: ["bin/tool"] });
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

test("[slow] warmRemote fetches every layer's TOC, starts its prefetch and mounts it before any prepare; prepares reuse them", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  try {
    proxy.reset();
    s.warmRemote([via(lower.layer, proxy.host), via(upper.layer, proxy.host), via(spare.layer, proxy.host)]);
    // Nothing is prepared yet, but all three TOCs come in, both prefetches go out, all three mount.
    for (let i = 0; i < 100 && ((requests(upper)).payload === 0 || (requests(lower)).payload === 0 || fuseMountsUnder(root).length < 3); i++) await Bun.sleep(50);
    for (const p of [lower, upper, spare]) expect((requests(p)).tail).toBeGreaterThanOrEqual(1);
    // lower: its speculative head and the rest of its region; upper: its head, cut at its landmark.
    for (let i = 0; i < 100 && requests(lower).payload < 2; i++) await Bun.sleep(50);
    expect((requests(lower)).payload).toBe(2);
    expect((requests(upper)).payload).toBe(1);
    expect(fuseMountsUnder(root).length).toBe(3);
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
    // The committed layers keep the chain; the spare one is still staged (mounted, uncommitted).
    expect((await s.stat("layer/upper"))?.parent).toBe("layer/lower");
    expect(fuseMountsUnder(root).length).toBe(3);
  } finally {
    // The spare layer was mounted and never prepared: closing the snapshotter unmounts it too.
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
  expect(await keys(root)).toEqual(["layer/lower", "layer/upper"]);
}, 60_000);

/** A view of layer/upper shows the upper layer's file and the lower layer's. */
async function expectBothLayers(s: ReturnType<typeof newSnapshotter>): Promise<void> {
  const target = tempDir("stargz-warm-view-");
  await mountAll(await s.view("v", "layer/upper"), target);
  try {
    expect(await readFile(join(target, "etc/conf"), "utf8")).toBe("warm\n");
    expect((await readFile(join(target, "bin/tool"))).equals(Buffer.from(noise(300_000, 1)))).toBe(true);
  } finally {
    await unmountAll(target);
  }
}

/** Snapshot keys as a fresh snapshotter on `root` sees them (views made by the test excluded). */
async function keys(root: string): Promise<string[]> {
  const s = newSnapshotter(root, testConfig());
  try {
    const out: string[] = [];
    await s.walk((i) => void (i.key.startsWith("layer/") || i.key.startsWith("remote-") ? out.push(i.key) : undefined));
    return out.sort();
  } finally {
    await s.close();
  }
}

/** A loopback proxy that holds every request for `digest`'s blob until release(). */
function gate(upstream: string, digest: string) {
  let release!: () => void;
  const open = new Promise<void>((r) => (release = r));
  let held = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname.endsWith(digest)) {
        held++;
        await open;
      }
      const headers = new Headers(req.headers);
      headers.set("host", upstream);
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, { method: req.method, headers, redirect: "manual", decompress: false } as RequestInit);
      return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: res.headers });
    },
  });
  return { host: `127.0.0.1:${server.port}`, release, held: () => held, stop: () => server.stop(true) };
}

/** Runs `fn` with a new snapshotter and a gate in front of `upstream` holding `digest`'s blob; then
 *  releases and stops the gate, closes the snapshotter and checks nothing is left mounted. */
async function withGate(upstream: string, digest: string, fn: (s: StargzSnapshotter, g: ReturnType<typeof gate>, root: string) => Promise<void>, config = testConfig()) {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, config);
  const g = gate(upstream, digest);
  try {
    await fn(s, g, root);
  } finally {
    g.release();
    await s.close();
    g.stop();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
}

test("[slow] layers mount at the same time: an upper layer is mounted while the one below still waits for its TOC", () =>
  withGate(reg.host, lower.layer.descriptor.digest, async (s, g, root) => {
    s.warmRemote([via(lower.layer, g.host), via(upper.layer, g.host)]);
    for (let i = 0; i < 200 && fuseMountsUnder(root).length < 1; i++) await Bun.sleep(25);
    // The upper layer is mounted; the lower one has not even got its TOC.
    expect(fuseMountsUnder(root).length).toBe(1);
    expect(g.held()).toBeGreaterThanOrEqual(1);
    // The image provider prepares bottom first: the lower layer waits for its mount, then the
    // upper one (already mounted) is committed onto it.
    const lowerDone = s.prepareRemote("layer/lower", undefined, via(lower.layer, g.host));
    await Bun.sleep(100);
    expect(await s.stat("layer/lower")).toBeUndefined();
    g.release();
    expect(await lowerDone).toEqual({ lazy: true });
    expect(await s.prepareRemote("layer/upper", "layer/lower", via(upper.layer, g.host))).toEqual({ lazy: true });
    expect((await s.stat("layer/upper"))?.parent).toBe("layer/lower");
    await expectBothLayers(s);
  }), 60_000);

test("[slow] a layer's prefetch waits while another layer's TOC is on its way, and goes out once that is in", () => {
  proxy.reset();
  // lower's footer and TOC held; the proxy counts what passes the gate. No speculative heads here.
  return withGate(proxy.host, lower.layer.descriptor.digest, async (s, g, root) => {
    s.warmRemote([via(lower.layer, g.host), via(upper.layer, g.host)]);
    for (let i = 0; i < 200 && fuseMountsUnder(root).length < 1; i++) await Bun.sleep(25);
    expect(fuseMountsUnder(root).length).toBe(1); // upper: TOC in, mounted
    await Bun.sleep(300);
    expect(requests(upper).tail).toBeGreaterThanOrEqual(1);
    expect(requests(upper).payload).toBe(0); // the link is left to lower's TOC
    expect(requests(lower).tail).toBe(0);
    g.release();
    for (let i = 0; i < 200 && (requests(upper).payload < 1 || fuseMountsUnder(root).length < 2); i++) await Bun.sleep(25);
    expect(requests(lower).tail).toBeGreaterThanOrEqual(1);
    expect(requests(upper).payload).toBe(1);
  }, testConfig({ speculative_head_size: 0 }));
}, 60_000);

test("[slow] a cold layer's head goes out with its TOC read; once the TOC is in it is cut at the landmark, or continued after the other TOCs", () => {
  proxy.reset();
  const spec = 64 << 10;
  return withGate(proxy.host, lower.layer.descriptor.digest, async (s, g, root) => {
    s.warmRemote([via(lower.layer, g.host), via(upper.layer, g.host)]);
    for (let i = 0; i < 200 && fuseMountsUnder(root).length < 1; i++) await Bun.sleep(25);
    expect(fuseMountsUnder(root).length).toBe(1); // upper: TOC in, mounted
    await Bun.sleep(300);
    const ranges = (p: PushedLayer) => proxy.blobGets.filter((r) => r.path.endsWith(p.layer.descriptor.digest)).map((r) => r.range!.slice(6));
    const landmark = async (p: PushedLayer) => (await openEstargz(bytesSource(p.blob), { layerDigest: p.layer.descriptor.digest })).landmark().prefetchEnd!;
    // upper: its head [0, spec) with its tail, before its TOC was in; its region is shorter than
    // that, so nothing more (the head was cut there).
    expect(await landmark(upper)).toBeLessThan(spec);
    expect(ranges(upper)).toContain(`0-${spec - 1}`);
    expect(requests(upper).payload).toBe(1);
    // lower: both its requests wait at the gate (the proxy sees neither yet).
    expect(g.held()).toBe(2);
    expect(requests(lower).tail + requests(lower).payload).toBe(0);
    g.release();
    for (let i = 0; i < 200 && (requests(lower).payload < 2 || fuseMountsUnder(root).length < 2); i++) await Bun.sleep(25);
    // lower's region (its prioritized 300 kB file) is longer: the rest in one more request, exactly.
    const end = await landmark(lower);
    expect(end).toBeGreaterThan(spec);
    expect(ranges(lower).filter((r) => Number(r.split("-")[1]) < lower.blob.length - 1)).toEqual([`0-${spec - 1}`, `${spec}-${end - 1}`]);
  }, testConfig({ speculative_head_size: spec }));
}, 60_000);

test("[slow] an unoptimized layer's speculative head is dropped at its first entry (the no-prefetch landmark)", async () => {
  const plain = await pushEstargz(reg.host, "warm/plain", layerTar([{ name: "data.bin", data: noise(4 << 20, 9) }]), { chunkSize: 1 << 20, level: 1 });
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig({ speculative_head_size: 2 << 20 }));
  try {
    proxy.reset();
    expect(await s.prepareRemote("layer/plain", undefined, via(plain.layer, proxy.host))).toEqual({ lazy: true });
    await Bun.sleep(300);
    expect(proxy.blobGets.map((g) => g.range)).toContain(`bytes=0-${(2 << 20) - 1}`);
    // Stopped within moments of its first bytes: far less than the 2 MiB asked for came.
    expect(s.remoteStatus()[0]?.fetched).toBeLessThan(1 << 20);
  } finally {
    await s.close();
  }
}, 30_000);

test("[slow] warmRemote with unlessPresent (at manifest time) leaves layers committed lazily before alone", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  try {
    expect(await s.prepareRemote("layer/lower", undefined, via(lower.layer, proxy.host))).toEqual({ lazy: true });
    for (let i = 0; i < 100 && s.remoteStatus()[0]?.state === "prefetching"; i++) await Bun.sleep(25);
    proxy.reset();
    s.warmRemote([via(lower.layer, proxy.host), via(upper.layer, proxy.host)], { unlessPresent: true });
    for (let i = 0; i < 200 && fuseMountsUnder(root).length < 2; i++) await Bun.sleep(25);
    expect(fuseMountsUnder(root).length).toBe(2); // lower (committed) and upper (staged)
    expect(requests(upper).tail).toBeGreaterThanOrEqual(1);
    expect(requests(lower)).toEqual({ tail: 0, payload: 0 });
    expect(await s.prepareRemote("layer/upper", "layer/lower", via(upper.layer, proxy.host))).toEqual({ lazy: true });
    // A rebuild: every layer committed already, nothing starts (no TOC asked for, no mount).
    proxy.reset();
    s.warmRemote([via(lower.layer, proxy.host), via(upper.layer, proxy.host)], { unlessPresent: true });
    await Bun.sleep(300);
    expect(proxy.blobGets).toEqual([]);
    expect(fuseMountsUnder(root).length).toBe(2);
  } finally {
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
}, 60_000);

test("[slow] the fetch thread starts with the snapshotter on a root without lazy layers, on first use on a root with some", async () => {
  const root = tempDir("stargz-warm-");
  const first = newSnapshotter(root, testConfig());
  try {
    expect(first.fetchThreadStarted).toBe(true); // a first build: lazy mounts are likely soon
    expect(await first.prepareRemote("layer/one", undefined, upper.layer)).toEqual({ lazy: true });
  } finally {
    await first.close();
  }
  const again = newSnapshotter(root, testConfig());
  try {
    expect(again.fetchThreadStarted).toBe(false); // a rebuild: maybe every step cached
    expect(await again.prepareRemote("layer/one", undefined, upper.layer)).toEqual({ lazy: true });
    expect(again.fetchThreadStarted).toBe(true);
  } finally {
    await again.close();
  }
}, 60_000);

test("[slow] two prepares of the same layer at once: both lazy, one mount, one snapshot", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  try {
    const both = await Promise.all([s.prepareRemote("layer/same", undefined, upper.layer), s.prepareRemote("layer/same", undefined, upper.layer)]);
    expect(both).toEqual([{ lazy: true }, { lazy: true }]);
    expect(fuseMountsUnder(root).length).toBe(1);
    expect((await s.stat("layer/same"))?.kind).toBe("committed");
  } finally {
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
}, 60_000);

test("[slow] a lower layer that fails while the upper one mounts is pulled; the upper one stays lazy on it; nothing staged is left", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  const forged = { ...lower.layer, descriptor: { ...lower.layer.descriptor, annotations: { "containerd.io/snapshot/stargz/toc.digest": `sha256:${"0".repeat(64)}` } } };
  try {
    s.warmRemote([forged, upper.layer]);
    const r = await s.prepareRemote("layer/lower", undefined, forged);
    expect(r.lazy === false && r.reason).toMatch(/TOC digest mismatch/);
    // What the image provider does then: the layer is pulled and unpacked under the same key.
    await s.applyLayer("layer/lower", undefined, [lowerTar]);
    expect(await s.prepareRemote("layer/upper", "layer/lower", upper.layer)).toEqual({ lazy: true });
    expect(fuseMountsUnder(root).length).toBe(1);
    await expectBothLayers(s);
  } finally {
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
  expect(await keys(root)).toEqual(["layer/lower", "layer/upper"]);
}, 60_000);

test("[slow] an aborted prepare unmounts and removes the layer it staged ahead", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  const g = gate(reg.host, upper.layer.descriptor.digest);
  try {
    s.warmRemote([via(lower.layer, g.host), via(upper.layer, g.host)]);
    expect(await s.prepareRemote("layer/lower", undefined, via(lower.layer, g.host))).toEqual({ lazy: true });
    const abort = new AbortController();
    const upperDone = s.prepareRemote("layer/upper", "layer/lower", via(upper.layer, g.host), abort.signal);
    await Bun.sleep(100);
    abort.abort(new Error("stop"));
    g.release();
    await expect(upperDone).rejects.toThrow("stop");
    expect(fuseMountsUnder(root).length).toBe(1);
  } finally {
    g.release();
    await s.close();
    g.stop();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
  expect(await keys(root)).toEqual(["layer/lower"]);
}, 60_000);

test("[slow] after a restart, a chain of lazy layers mounts again on first use", async () => {
  const root = tempDir("stargz-warm-");
  let s = newSnapshotter(root, testConfig());
  try {
    s.warmRemote([lower.layer, upper.layer]);
    expect(await s.prepareRemote("layer/lower", undefined, lower.layer)).toEqual({ lazy: true });
    expect(await s.prepareRemote("layer/upper", "layer/lower", upper.layer)).toEqual({ lazy: true });
  } finally {
    await s.close();
  }
  expect(fuseMountsUnder(root)).toEqual([]);
  s = newSnapshotter(root, testConfig());
  try {
    const target = tempDir("stargz-warm-view-");
    await mountAll(await s.view("v", "layer/upper"), target);
    try {
      expect(fuseMountsUnder(root).length).toBe(2);
      expect(await readFile(join(target, "etc/conf"), "utf8")).toBe("warm\n");
    } finally {
      await unmountAll(target);
    }
  } finally {
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

test("[slow] a layer's prefetch region goes out in one request (after its speculative head) as soon as its TOC is in, and the fetcher's pieces are served from it", async () => {
  const root = tempDir("stargz-warm-");
  const s = newSnapshotter(root, testConfig());
  const spec = testConfig().speculative_head_size;
  try {
    proxy.reset();
    expect(await s.prepareRemote("layer/big", undefined, via(big.layer, proxy.host))).toEqual({ lazy: true });
    for (let i = 0; i < 100 && s.remoteStatus()[0]?.state === "prefetching"; i++) await Bun.sleep(50);
    expect(s.remoteStatus()[0]?.state).not.toBe("prefetching");
    const reader = await openEstargz(bytesSource(big.blob), { layerDigest: big.layer.descriptor.digest });
    const end = reader.landmark().prefetchEnd!;
    // 6 MiB of incompressible data before the landmark: 2 MiB prefetch pieces once, one head stream now.
    expect(end).toBeGreaterThan(6 << 20);
    const data = proxy.blobGets.map((g) => g.range!.slice(6).split("-").map(Number)).filter(([, last]) => last < big.blob.length - 1);
    expect(data).toEqual([[0, spec - 1], [spec, end - 1]]);
    // Every prioritized chunk was decoded from it into the cache: reading them asks for nothing more.
    const cached = readdirSync(join(root, "cache"), { recursive: true }).length;
    expect(cached).toBeGreaterThanOrEqual(3);
    expect(s.remoteStatus()[0]?.fetched).toBeLessThan(end + (256 << 10));
  } finally {
    await s.close();
  }
}, 30_000);
