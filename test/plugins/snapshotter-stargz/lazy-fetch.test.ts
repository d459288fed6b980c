// What goes over the network for lazy reads, and what happens when it goes wrong.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { mountAll, unmountAll } from "../../../core/snapshot/mount.ts";
import { tocTailGuess } from "../../../plugins/snapshotter-stargz/toc-arrival.ts";
import { bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { registryBlobPath, startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { startFaultProxy, type FaultProxy } from "./fault-proxy.ts";
import { fuseMountsUnder, layerDir, layerTar, newSnapshotter, noise, pushEstargz, readAt, testConfig, via, type PushedLayer } from "./helpers.ts";
import { BIG, CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

let reg: TestRegistry;
let proxy: FaultProxy;
let sample: PushedLayer;

beforeAll(async () => {
  reg = await startRegistry();
  proxy = startFaultProxy(reg.host);
  sample = await pushEstargz(reg.host, "lazy/sample", layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK, prioritizedFiles: ["etc/hostname"] });
});

afterAll(async () => {
  proxy?.stop();
  await reg?.stop();
  removeTempDirs();
});

/** Compressed span of chunk `index` of `name` in a blob. */
async function spanOf(blob: Uint8Array, digest: string, name: string, index: number): Promise<{ offset: number; end: number }> {
  const r = await openEstargz(bytesSource(blob), { layerDigest: digest });
  return r.chunkSpan(r.lookup(name)!, index);
}

describe("lazy reads over the network", () => {
  test("[slow] a small read fetches only its chunk, once; after a restart nothing is fetched again", async () => {
    const root = tempDir("stargz-");
    const layer = via(sample.layer, proxy.host);
    let s = newSnapshotter(root, testConfig({ noprefetch: true }));
    const span = await spanOf(sample.blob, sample.layer.descriptor.digest, "data/big.bin", 1);
    try {
      expect(await s.prepareRemote("layer/a", undefined, layer)).toEqual({ lazy: true });
      const big = join(await layerDir(s, "layer/a"), "data/big.bin");
      proxy.reset();
      expect((await readAt(big, CHUNK + 100, 4096)).equals(Buffer.from(BIG.subarray(CHUNK + 100, CHUNK + 4196)))).toBe(true);
      expect(proxy.blobGets).toHaveLength(1);
      expect(proxy.blobBytes).toBe(span.end - span.offset);
      expect((await readAt(big, CHUNK + 700_000, 4096)).equals(Buffer.from(BIG.subarray(CHUNK + 700_000, CHUNK + 704_096)))).toBe(true);
      expect(proxy.blobGets).toHaveLength(1);
      await s.close();
      expect(fuseMountsUnder(root)).toEqual([]);

      // A new process: the snapshot is still recorded and mounts again on first use, its TOC and
      // the chunk it read coming from disk.
      s = newSnapshotter(root, testConfig({ noprefetch: true }));
      proxy.reset();
      const again = join(await layerDir(s, "layer/a"), "data/big.bin");
      expect((await readAt(again, CHUNK + 100, 4096)).equals(Buffer.from(BIG.subarray(CHUNK + 100, CHUNK + 4196)))).toBe(true);
      expect(proxy.blobGets).toHaveLength(0);
    } finally {
      await s.close();
    }
    expect(fuseMountsUnder(root)).toEqual([]);
  }, 60_000);

  test("[slow] a file read start to end is fetched ahead in a few big range requests, each chunk once", async () => {
    const chunk = 1 << 20;
    const data = noise(24 * chunk, 21);
    const pushed = await pushEstargz(reg.host, "lazy/sequential", layerTar([{ name: "seq.bin", data }]), { chunkSize: chunk });
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true }));
    try {
      expect(await s.prepareRemote("layer/seq", undefined, via(pushed.layer, proxy.host))).toEqual({ lazy: true });
      proxy.reset();
      const got = await readFile(join(await layerDir(s, "layer/seq"), "seq.bin"));
      expect(got.equals(Buffer.from(data))).toBe(true);
      // 24 chunks: a fixed 2-chunk readahead window takes ~22 requests; the growing one about 8.
      expect(proxy.blobGets.length).toBeLessThanOrEqual(12);
      const reader = await openEstargz(bytesSource(pushed.blob), { layerDigest: pushed.layer.descriptor.digest });
      const f = reader.lookup("seq.bin")!;
      expect(proxy.blobBytes).toBe(f.chunks.at(-1)!.compressedEnd - f.chunks[0].offset);
    } finally {
      await s.close();
    }
  }, 60_000);

  test("[slow] the range before the prefetch landmark comes in one request at mount", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig());
    try {
      proxy.reset();
      expect(await s.prepareRemote("layer/p", undefined, via(sample.layer, proxy.host))).toEqual({ lazy: true });
      for (let i = 0; i < 50 && s.remoteStatus()[0]?.state === "prefetching"; i++) await Bun.sleep(100);
      expect(s.remoteStatus()[0].state).toBe("mounted");
      const reader = await openEstargz(bytesSource(sample.blob), { layerDigest: sample.layer.descriptor.digest });
      const end = reader.landmark().prefetchEnd!;
      const first = reader.lookup("etc/hostname")!.chunks[0].offset;
      // Besides the TOC at the end: one request, over the prioritized files' data: the speculative
      // head asked for with the TOC (then cut at the landmark, which is before its end).
      const ranges = proxy.blobGets.map((g) => g.range!.slice(6).split("-").map(Number)).filter(([, last]) => last < reader.tocOffset);
      const spec = Math.min(testConfig().speculative_head_size, sample.blob.length - tocTailGuess(sample.blob.length));
      expect(end).toBeLessThan(spec);
      expect(ranges).toEqual([[0, spec - 1]]);
      expect(ranges[0][0]).toBeLessThanOrEqual(first);
      const before = proxy.blobGets.length;
      expect(await readFile(join(await layerDir(s, "layer/p"), "etc/hostname"), "utf8")).toBe("edgebuild\n");
      expect(proxy.blobGets.length).toBe(before);
    } finally {
      await s.close();
    }
  }, 30_000);

  test("[slow] a chunk altered in registry storage fails its read with EIO and a log line, never wrong bytes", async () => {
    const payload = noise(200_000, 11);
    // Level 0: a replacement member of the same length that inflates fine but to other bytes.
    const pushed = await pushEstargz(reg.host, "lazy/tamper", layerTar([{ name: "victim", data: payload }, { name: "fine", data: "fine\n" }]), { level: 0 });
    const digest = pushed.layer.descriptor.digest;
    const span = await spanOf(pushed.blob, digest, "victim", 0);
    const member = pushed.blob.subarray(span.offset, span.end);
    const plain = new Uint8Array(gunzipSync(member));
    plain[10] ^= 0xff;
    const forged = gzipSync(plain, { level: 0 });
    expect(forged.length).toBe(member.length);
    const stored = readFileSync(registryBlobPath(reg, digest));
    stored.set(forged, span.offset);
    writeFileSync(registryBlobPath(reg, digest), stored);

    const root = tempDir("stargz-");
    const logs: string[] = [];
    const s = newSnapshotter(root, testConfig({ noprefetch: true }), logs);
    try {
      expect(await s.prepareRemote("layer/t", undefined, pushed.layer)).toEqual({ lazy: true });
      const dir = await layerDir(s, "layer/t");
      let code: string | undefined;
      try {
        readFileSync(join(dir, "victim"));
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code;
      }
      expect(code).toBe("EIO");
      await Bun.sleep(100); // log lines arrive as messages from the fetch thread
      expect(logs.some((l) => l.includes(digest) && l.includes('"victim"') && l.includes("digest mismatch")), logs.join("\n")).toBe(true);
      expect(readFileSync(join(dir, "fine"), "utf8")).toBe("fine\n");
      await Bun.sleep(300);
      expect(s.remoteStatus()[0].lastError).toContain("digest mismatch");
      // Nothing unverified reached the cache.
      const cached = readdirSync(join(root, "cache", digest.replace(":", "-")));
      expect(cached).toHaveLength(1);
    } finally {
      await s.close();
    }
  }, 30_000);

  test("[slow] a registry that goes away fails reads with EIO within the deadline; they work when it is back", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true, blob: { fetching_timeout_sec: 2, max_retries: 3, min_wait_msec: 50, max_wait_msec: 400 } }));
    try {
      expect(await s.prepareRemote("layer/d", undefined, via(sample.layer, proxy.host))).toEqual({ lazy: true });
      const dir = await layerDir(s, "layer/d");
      proxy.down();
      const started = Date.now();
      let code: string | undefined;
      try {
        await readFile(join(dir, "bin/busybox"));
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code;
      }
      const took = Date.now() - started;
      expect(code).toBe("EIO");
      expect(took).toBeLessThan(5_000);
      expect(took).toBeGreaterThanOrEqual(1_500);
      proxy.up();
      const busybox = SAMPLE_ENTRIES.find((e) => e.name === "bin/busybox")!.data as Uint8Array;
      expect((await readFile(join(dir, "bin/busybox"))).equals(Buffer.from(busybox))).toBe(true);
    } finally {
      proxy.up();
      await s.close();
    }
  }, 30_000);

  test("[slow] overlay stacks lazy layers as lowerdirs under a writable snapshot", async () => {
    const upper = await pushEstargz(reg.host, "lazy/upper", layerTar([
      { name: "etc", type: "dir" },
      { name: "etc/.wh.hostname", data: "" },
      { name: "data", type: "dir" },
      { name: "data/.wh..wh..opq", data: "" },
      { name: "data/new", data: "new\n" },
    ]));
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true }));
    const target = tempDir("merged-");
    try {
      expect(await s.prepareRemote("layer/a", undefined, sample.layer)).toEqual({ lazy: true });
      expect(await s.prepareRemote("layer/b", "layer/a", upper.layer)).toEqual({ lazy: true });
      const recording = s.recordAccess();
      await mountAll(await s.prepare("work", "layer/b"), target);
      try {
        expect(readdirSync(join(target, "etc")).sort()).toEqual(["shadow"]);
        expect(readdirSync(join(target, "data"))).toEqual(["new"]);
        expect(readFileSync(join(target, "etc/shadow"), "utf8")).toBe("root:*:19000::::::\n");
        expect(readdirSync(target)).not.toContain("gone");
        writeFileSync(join(target, "written"), "ok");
        mkdirSync(join(target, "etc/new-dir"));
      } finally {
        await unmountAll(target);
      }
      const access = await recording.stop();
      expect(access[sample.layer.descriptor.digest]).toContain("etc/shadow");
      expect(execFileSync("ls", [join(root, "snapshots")]).toString().length).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
    expect(fuseMountsUnder(root)).toEqual([]);
  }, 30_000);

  test("[slow] a full cache disk leaves reads working from memory, with a warning", async () => {
    const root = tempDir("stargz-");
    const cache = join(root, "cache");
    mkdirSync(cache, { recursive: true });
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", cache]);
    const logs: string[] = [];
    const s = newSnapshotter(root, testConfig({ noprefetch: true }), logs);
    try {
      expect(await s.prepareRemote("layer/f", undefined, sample.layer)).toEqual({ lazy: true });
      const big = readFileSync(join(await layerDir(s, "layer/f"), "data/big.bin"));
      expect(big.equals(Buffer.from(BIG))).toBe(true);
      await Bun.sleep(100);
      expect(logs.some((l) => l.includes("ENOSPC") && l.includes("memory only")), logs.join("\n")).toBe(true);
    } finally {
      await s.close();
      execFileSync("umount", [cache]);
    }
  }, 30_000);

  test("[slow] readers racing on one chunk from several FUSE workers cause one request", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true, blob: { readahead_chunks: 0 } }));
    try {
      expect(await s.prepareRemote("layer/r", undefined, via(sample.layer, proxy.host))).toEqual({ lazy: true });
      const big = join(await layerDir(s, "layer/r"), "data/big.bin");
      proxy.reset();
      const offsets = Array.from({ length: 12 }, (_, i) => 2 * CHUNK + i * 80_000);
      const got = await Promise.all(offsets.map((o) => readAt(big, o, 1000)));
      offsets.forEach((o, i) => expect(got[i].equals(Buffer.from(BIG.subarray(o, o + 1000)))).toBe(true));
      expect(proxy.blobGets).toHaveLength(1);
    } finally {
      await s.close();
    }
  }, 30_000);

  test("[slow] background fetch brings the whole layer in; then reads need no network", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true, no_background_fetch: false, background_fetch: { fetch_period_msec: 5, fetch_size: 1 << 20 } }));
    try {
      expect(await s.prepareRemote("layer/bg", undefined, via(sample.layer, proxy.host))).toEqual({ lazy: true });
      for (let i = 0; i < 100 && s.remoteStatus()[0]?.state !== "complete"; i++) await Bun.sleep(100);
      expect(s.remoteStatus()[0].state).toBe("complete");
      proxy.reset();
      const dir = await layerDir(s, "layer/bg");
      expect((await readFile(join(dir, "data/big.bin"))).equals(Buffer.from(BIG))).toBe(true);
      expect(await readFile(join(dir, "etc/shadow"), "utf8")).toBe("root:*:19000::::::\n");
      expect(proxy.blobGets).toHaveLength(0);
    } finally {
      await s.close();
    }
  }, 30_000);

  test("[slow] with passthrough, a big file gets a whole local copy once complete and reads stay exact", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true, fuse: { passthrough: true } }));
    try {
      expect(await s.prepareRemote("layer/pt", undefined, sample.layer)).toEqual({ lazy: true });
      const dir = await layerDir(s, "layer/pt");
      expect((await readFile(join(dir, "data/big.bin"))).equals(Buffer.from(BIG))).toBe(true);
      const layerCache = join(root, "cache", sample.layer.descriptor.digest.replace(":", "-"));
      let whole: string | undefined;
      for (let i = 0; i < 50 && !whole; i++, await Bun.sleep(50)) whole = readdirSync(layerCache).find((n) => n.startsWith("file-") && !n.includes(".tmp-"));
      expect(whole).toBeDefined();
      expect(readFileSync(join(layerCache, whole!)).equals(Buffer.from(BIG))).toBe(true);
      // Opened again now: served from that copy (passthrough when the kernel supports it).
      expect((await readFile(join(dir, "data/big.bin"))).equals(Buffer.from(BIG))).toBe(true);
      expect((await readAt(join(dir, "data/big.bin"), CHUNK - 10, 20)).equals(Buffer.from(BIG.subarray(CHUNK - 10, CHUNK + 10)))).toBe(true);
      expect(await readFile(join(dir, "etc/hostname"), "utf8")).toBe("edgebuild\n");
      expect(await readFile(join(dir, "etc/hostname"), "utf8")).toBe("edgebuild\n");
    } finally {
      await s.close();
    }
  }, 30_000);

  test("[slow] after the process is killed, the next one detaches the dead mount and mounts the layer again", async () => {
    const root = tempDir("stargz-");
    const child = Bun.spawn([process.execPath, join(import.meta.dir, "killed-entry.ts"), root, JSON.stringify(sample.layer)], { stdout: "pipe", stderr: "pipe" });
    const [out, err] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    expect(child.signalCode, err).toBe("SIGKILL");
    expect(out).toBe("edgebuild\n");
    expect(fuseMountsUnder(root)).toHaveLength(1); // left behind, its server gone
    const logs: string[] = [];
    const s = newSnapshotter(root, testConfig({ noprefetch: true }), logs);
    try {
      expect(logs.some((l) => l.includes("stale"))).toBe(true);
      expect(fuseMountsUnder(root)).toEqual([]);
      expect((await s.stat("layer/k"))?.labels["containerd.io/snapshot/remote"]).toBe("true");
      const dir = await layerDir(s, "layer/k");
      expect(readFileSync(join(dir, "etc/shadow"), "utf8")).toBe("root:*:19000::::::\n");
      expect(fuseMountsUnder(root)).toEqual([dir]);
    } finally {
      await s.close();
    }
    expect(fuseMountsUnder(root)).toEqual([]);
  }, 30_000);

  test("[slow] removing a lazy snapshot unmounts it", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig({ noprefetch: true }));
    try {
      expect(await s.prepareRemote("layer/rm", undefined, sample.layer)).toEqual({ lazy: true });
      expect(fuseMountsUnder(root)).toHaveLength(1);
      await s.remove("layer/rm");
      expect(fuseMountsUnder(root)).toEqual([]);
      expect(await s.stat("layer/rm")).toBeUndefined();
      expect(s.remoteStatus()).toEqual([]);
    } finally {
      await s.close();
    }
  }, 30_000);
});
