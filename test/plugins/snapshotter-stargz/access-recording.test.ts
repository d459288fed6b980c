// recordAccess(): which files of the lazy layers a workload opened, complete the moment stop()
// resolves (estargz-optimize's prioritized-file lists are built from it).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { mountAll, unmountAll } from "../../../core/snapshot/mount.ts";
import { startRegistry, type TestRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { fuseMountsUnder, layerTar, newSnapshotter, pushEstargz, testConfig, type PushedLayer } from "./helpers.ts";
import { CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

let reg: TestRegistry;
let lower: PushedLayer;
let upper: PushedLayer;

beforeAll(async () => {
  reg = await startRegistry();
  lower = await pushEstargz(reg.host, "rec/lower", layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK });
  upper = await pushEstargz(reg.host, "rec/upper", layerTar([
    { name: "app", type: "dir" },
    ...Array.from({ length: 12 }, (_, i) => ({ name: `app/mod${i}.js`, data: `module ${i}\n` })),
  ]));
});

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
});

describe("access recording", () => {
  test("[slow] stop() right after a workload holds every file it opened, in each layer, with overlapping recordings", async () => {
    const root = tempDir("stargz-rec-");
    const s = newSnapshotter(root, testConfig({ fuse: { workers: 2 } }));
    const target = tempDir("merged-");
    try {
      expect(await s.prepareRemote("layer/lower", undefined, lower.layer)).toEqual({ lazy: true });
      expect(await s.prepareRemote("layer/upper", "layer/lower", upper.layer)).toEqual({ lazy: true });
      await mountAll(await s.prepare("work", "layer/upper"), target);
      try {
        const outer = s.recordAccess();
        readFileSync(join(target, "etc/hostname"));
        for (let round = 0; round < 3; round++) {
          const inner = s.recordAccess();
          // Synchronous reads: no report can be taken by this thread until stop() waits for them.
          const mods = Array.from({ length: 4 }, (_, i) => `app/mod${round * 4 + i}.js`);
          for (const f of [...mods, "bin/su"]) readFileSync(join(target, f));
          const got = await inner.stop();
          expect(got[upper.layer.descriptor.digest]?.toSorted()).toEqual(mods.toSorted());
          // A report still on its way when a recording starts counts for it too: a superset, never a loss.
          expect(got[lower.layer.descriptor.digest]).toContain("bin/su");
        }
        const all = await outer.stop();
        expect(all[upper.layer.descriptor.digest]).toHaveLength(12);
        expect(all[lower.layer.descriptor.digest]?.toSorted()).toEqual(["bin/su", "etc/hostname"]);
      } finally {
        await unmountAll(target);
      }
    } finally {
      await s.close();
    }
    expect(fuseMountsUnder(root)).toEqual([]);
  }, 60_000);
  test("[slow] with recording off, layers mounted after that open files without OPEN round trips and report nothing", async () => {
    const root = tempDir("stargz-norec-");
    const s = newSnapshotter(root, testConfig());
    s.setAccessRecording(false);
    try {
      expect(await s.prepareRemote("layer/upper", undefined, upper.layer)).toEqual({ lazy: true });
      const [m] = await s.view("v", "layer/upper");
      const rec = s.recordAccess();
      for (let i = 0; i < 12; i++) expect(readFileSync(join(m.source, `app/mod${i}.js`), "utf8")).toBe(`module ${i}\n`);
      expect(await rec.stop()).toEqual({});
      // Per file the kernel sent at most LOOKUP + READ (+ GETATTR): no OPEN, RELEASE or FLUSH.
      const stats = (s as unknown as { layers: Map<string, { mountStats(): { requests: number } | undefined }> }).layers;
      const requests = [...stats.values()].reduce((n, l) => n + (l.mountStats()?.requests ?? 0), 0);
      expect(requests).toBeLessThan(12 * 3 + 10);
    } finally {
      await s.close();
    }
  });
});
