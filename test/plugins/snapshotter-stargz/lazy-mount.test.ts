// Mounting eStargz layers lazily through snapshotter.stargz against a real registry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { buildChecker, goBuild } from "../../interop/estargz-check/build-checker.ts";
import { join } from "node:path";
import { applyLayer } from "../../../core/layer/apply.ts";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { describeTree, fuseMountsUnder, layerDir, type FileFacts, layerTar, newSnapshotter, pushBlob, pushEstargz, testConfig, type PushedLayer } from "./helpers.ts";
import { BIG, CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

let reg: TestRegistry;
let sample: PushedLayer;
const tar = layerTar(SAMPLE_ENTRIES);

beforeAll(async () => {
  reg = await startRegistry();
  sample = await pushEstargz(reg.host, "lazy/sample", tar, { chunkSize: CHUNK, prioritizedFiles: ["etc/hostname"] });
});

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe("snapshotter.stargz", () => {
  test("[slow] a lazily mounted layer shows exactly what the tar unpacks to", async () => {
    const root = tempDir("stargz-");
    const logs: string[] = [];
    const s = newSnapshotter(root, testConfig(), logs);
    try {
      expect(await s.prepareRemote("layer/a", undefined, sample.layer)).toEqual({ lazy: true });
      const mnt = await layerDir(s, "layer/a");
      expect(fuseMountsUnder(root)).toEqual([mnt]);
      const ref = join(tempDir("ref-"), "fs");
      mkdirSync(ref);
      await applyLayer(ref, [tar], { mode: "overlay" });
      const got = describeTree(mnt);
      const want = describeTree(ref);
      expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
      // A whiteout's mtime is whenever the unpacker ran mknod: not part of the layer.
      const comparable = (f: FileFacts | undefined) => (f?.type === "char" && f.rdev === 0 ? { ...f, mtime: 0 } : f);
      for (const [path, facts] of want) expect({ path, ...comparable(got.get(path)) }).toEqual({ path, ...comparable(facts) });
      expect(got.get("bin/ls")?.nlink).toBe(3);
      expect(got.get(".wh.gone")).toBeUndefined();
      expect(got.get("gone")?.type).toBe("char");
      expect(got.get("opq")?.xattrs["trusted.overlay.opaque"]).toBe(Buffer.from("y").toString("base64"));
      expect(readFileSync(join(mnt, "data/big.bin")).equals(Buffer.from(BIG))).toBe(true);
      await Bun.sleep(300); // status comes from the fetch thread at most every 200 ms
      const status = s.remoteStatus();
      expect(status).toHaveLength(1);
      expect(status[0]).toMatchObject({ digest: sample.layer.descriptor.digest, size: sample.blob.length });
      expect(status[0].fetched).toBeGreaterThan(BIG.length);
      expect(logs).toEqual([]);
    } finally {
      await s.close();
    }
    expect(fuseMountsUnder(root)).toEqual([]);
  }, 60_000);

  for (const flavour of ["gzip", "zstd-chunked"] as const) {
    test(`[slow] ${flavour} layers written by edgebuild and by the Go reference mount with the same tree`, async () => {
      const root = tempDir("stargz-");
      const work = tempDir("ref-");
      const tarPath = join(work, "layer.tar");
      writeFileSync(tarPath, tar);
      const ours = await pushEstargz(reg.host, `lazy/ours-${flavour}`, tar, { format: flavour, chunkSize: CHUNK, prioritizedFiles: ["bin/su"] });
      const goBlob = join(work, "go.blob");
      const go = goBuild(buildChecker(), tarPath, goBlob, { zstd: flavour === "zstd-chunked", chunkSize: CHUNK, prioritized: ["bin/su"] });
      const mediaType = flavour === "gzip" ? "application/vnd.oci.image.layer.v1.tar+gzip" : "application/vnd.oci.image.layer.v1.tar+zstd";
      const theirs = await pushBlob(reg.host, `lazy/go-${flavour}`, readFileSync(goBlob), go.tocDigest, mediaType);
      const s = newSnapshotter(root, testConfig());
      try {
        expect(await s.prepareRemote("layer/ours", undefined, ours.layer)).toEqual({ lazy: true });
        expect(await s.prepareRemote("layer/go", undefined, theirs.layer)).toEqual({ lazy: true });
        const a = describeTree(await layerDir(s, "layer/ours"));
        const b = describeTree(await layerDir(s, "layer/go"));
        expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
        for (const [path, facts] of a) expect({ path, ...b.get(path) }).toEqual({ path, ...facts });
        expect(a.get("data/big.bin")?.content).toBe(createHash("sha256").update(BIG).digest("hex"));
      } finally {
        await s.close();
      }
      expect(fuseMountsUnder(root)).toEqual([]);
    }, 60_000);
  }

  test("[slow] a layer without a TOC digest annotation or with the wrong one is not mounted lazily", async () => {
    const root = tempDir("stargz-");
    const s = newSnapshotter(root, testConfig());
    try {
      const plain = { ...sample.layer, descriptor: { ...sample.layer.descriptor, annotations: {} } };
      const r1 = await s.prepareRemote("layer/plain", undefined, plain);
      expect(r1.lazy).toBe(false);
      expect(!r1.lazy && r1.reason).toContain("toc.digest");
      const wrong = `sha256:${"0".repeat(64)}`;
      const bad = { ...sample.layer, descriptor: { ...sample.layer.descriptor, annotations: { "containerd.io/snapshot/stargz/toc.digest": wrong } } };
      const r2 = await s.prepareRemote("layer/bad", undefined, bad);
      expect(r2.lazy).toBe(false);
      expect(!r2.lazy && r2.reason).toContain("TOC digest mismatch");
      expect(!r2.lazy && r2.reason).toContain(sample.layer.descriptor.digest);
      expect(await s.stat("layer/bad")).toBeUndefined();
      expect(fuseMountsUnder(root)).toEqual([]);
    } finally {
      await s.close();
    }
  }, 30_000);
});

