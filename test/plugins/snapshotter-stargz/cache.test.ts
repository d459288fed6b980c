// The chunk cache's mount-time check: which chunks of a layer are already on disk.
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { ChunkCache } from "../../../plugins/snapshotter-stargz/cache.ts";
import type { ChunkRef } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";

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
