// The chunk cache's mount-time check (which chunks of a layer are already on disk) and the whole-file
// copies it assembles for passthrough.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { ChunkCache } from "../../../plugins/snapshotter-stargz/cache.ts";
import type { ChunkRef } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { noise } from "./helpers.ts";

afterAll(removeTempDirs);

const LAYER = `sha256:${"cd".repeat(32)}`;
const chunk = (id: number, size: number): ChunkRef =>
  ({ id, index: 0, chunkOffset: 0, chunkSize: size, offset: id * 1000, compressedEnd: id * 1000 + 500, innerOffset: 0 }) as unknown as ChunkRef;

describe("ChunkCache.cachedAmong", () => {
  test("finds what has() finds: whole files only, none for a layer never cached", () => {
    const cache = new ChunkCache(tempDir("chunk-cache-"), () => {});
    const chunks = [chunk(0, 4), chunk(1, 4), chunk(2, 4)];
    expect(cache.cachedAmong(LAYER, chunks)).toEqual([]);
    expect(cache.put(LAYER, chunks[0], new Uint8Array(4))).toBe(true);
    expect(cache.put(LAYER, chunks[2], new Uint8Array(4))).toBe(true);
    writeFileSync(cache.path(LAYER, chunks[1]), new Uint8Array(3)); // short: someone else's file
    const found = cache.cachedAmong(LAYER, chunks);
    expect(found.map((c) => c.id)).toEqual([0, 2]);
    expect(found.map((c) => c.id)).toEqual(chunks.filter((c) => cache.has(LAYER, c)).map((c) => c.id));
  });
});

describe("ChunkCache.assemble", () => {
  const at = (id: number, chunkOffset: number, size: number): ChunkRef =>
    ({ id, index: id, chunkOffset, chunkSize: size, offset: id * 1000, compressedEnd: id * 1000 + 500, innerOffset: 0 }) as unknown as ChunkRef;

  test("writes the whole file from its chunks through one reused buffer: sizes up and down, files one after another", () => {
    const dir = tempDir("chunk-cache-");
    const cache = new ChunkCache(dir, () => {});
    for (const sizes of [[300_000, 1 << 20, 70_000], [2 << 20, 5]]) {
      const chunks: ChunkRef[] = [];
      const whole: Uint8Array[] = [];
      let off = 0;
      for (const [i, size] of sizes.entries()) {
        const c = at(chunks.length + 10 * sizes.length, off, size);
        const bytes = noise(size, i + sizes.length);
        cache.put(LAYER, c, bytes);
        chunks.push(c);
        whole.push(bytes);
        off += size;
      }
      const dest = join(dir, `whole-${sizes.length}`);
      cache.assemble(LAYER, chunks, dest);
      expect(Buffer.from(readFileSync(dest)).equals(Buffer.concat(whole))).toBe(true);
    }
  });

  test("a short chunk entry leaves no file behind and is logged", () => {
    const dir = tempDir("chunk-cache-");
    const logs: string[] = [];
    const cache = new ChunkCache(dir, (m) => logs.push(m));
    const a = at(1, 0, 1000);
    const b = at(2, 1000, 1000);
    cache.put(LAYER, a, noise(1000, 1));
    writeFileSync(cache.path(LAYER, b), new Uint8Array(10));
    const dest = join(dir, "whole");
    cache.assemble(LAYER, [a, b], dest);
    expect(existsSync(dest)).toBe(false);
    expect(readdirSync(dirname(cache.path(LAYER, a))).some((n) => n.includes(".tmp-"))).toBe(false);
    expect(logs.join("\n")).toContain("cannot assemble");
  });
});
