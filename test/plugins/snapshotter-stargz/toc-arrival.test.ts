import { describe, expect, test } from "bun:test";
import { buildEstargz, bytesSource, openEstargz, type RandomAccessSource } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { tocTailGuess, watchTocArrival } from "../../../plugins/snapshotter-stargz/toc-arrival.ts";
import { layerTar, noise } from "./helpers.ts";

const settled = async (p: Promise<unknown>) => {
  let done = false;
  p.then(() => (done = true));
  await Bun.sleep(0);
  return done;
};

/** A source whose reads are logged and answered only when released, one by one. */
function steppedSource(bytes: Uint8Array) {
  const inner = bytesSource(bytes);
  const waiting: (() => void)[] = [];
  const reads: [number, number][] = [];
  const source: RandomAccessSource = {
    size: bytes.length,
    readAt: async (offset, length) => {
      reads.push([offset, length]);
      await new Promise<void>((r) => waiting.push(r));
      return inner.readAt(offset, length);
    },
  };
  const next = async () => {
    for (let i = 0; i < 100 && waiting.length === 0; i++) await Bun.sleep(1);
    waiting.shift()!();
    await Bun.sleep(0);
  };
  return { source, reads, next };
}

test("watchTocArrival settles once the footer and the TOC it points at have been read, before the TOC is parsed", async () => {
  // Thousands of entries: a TOC bigger than the 64 KiB first read of the blob's tail.
  const files = Array.from({ length: 3000 }, (_, i) => ({ name: `d/f${i}`, data: `file ${i}\n` }));
  const blob = (await buildEstargz(layerTar([{ name: "d", type: "dir" }, ...files]), { chunkSize: 1 << 16 })).blob!;
  const s = steppedSource(blob);
  const w = watchTocArrival(s.source);
  const opening = openEstargz(w.source, { layerDigest: "sha256:" + "1".repeat(64) });
  await s.next(); // the tail: footer, and only the end of the TOC
  expect(s.reads[0][0] + s.reads[0][1]).toBe(blob.length);
  expect(await settled(w.arrived)).toBe(false);
  await s.next(); // the rest of the TOC
  expect(s.reads).toHaveLength(2);
  expect(await settled(w.arrived)).toBe(true);
  const reader = await opening;
  expect(reader.entries.length).toBeGreaterThan(3000);
});

test("watchTocArrival: a small TOC is in with the first read; a blob without an eStargz footer never settles it", async () => {
  const blob = (await buildEstargz(layerTar([{ name: "a", data: noise(1000) }]))).blob!;
  const s = steppedSource(blob);
  const w = watchTocArrival(s.source);
  const opening = openEstargz(w.source, { layerDigest: "sha256:" + "2".repeat(64) });
  await s.next();
  expect(await settled(w.arrived)).toBe(true);
  await opening;

  const junk = watchTocArrival(bytesSource(noise(200_000, 9)));
  await junk.source.readAt(200_000 - 65536, 65536);
  expect(await settled(junk.arrived)).toBe(false);
});

describe("tocTailGuess", () => {
  test("0.75% of the blob, at least 64 KiB, at most 1 MiB: the bench images' TOCs fit their first read", () => {
    expect(tocTailGuess(1000)).toBe(64 << 10);
    expect(tocTailGuess(8_660_000)).toBe(65_536);
    // python's base layer: 30.19 MB blob, TOC member 188-216 KB
    expect(tocTailGuess(30_190_000)).toBeGreaterThan(216_000);
    expect(tocTailGuess(30_190_000)).toBeLessThan(240_000);
    // the Go toolchain layer: 126.4 MB, TOC 784 KB
    expect(tocTailGuess(126_420_000)).toBeGreaterThan(784_700);
    expect(tocTailGuess(5e9)).toBe(1 << 20);
  });
});
