// The TOC parsed in a short-lived thread (toc-parse.ts): the chunk table the fetch thread makes
// from the shared index and the chunk digests equals the one made from the TOC itself, the parse
// thread is gone once the answer is in, errors keep the parser's message, and chunks of such a
// table are checked like EstargzReader checks them.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import * as v from "valibot";
import { buildEstargz, bytesSource, EstargzReader, normalizeToc, openEstargz, parseToc, readToc, TocSchema, type LocatedToc } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { heapStats } from "bun:jsc";
import { buildChunkTable, fileChunkIds, type ChunkTable } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { cleanEntryName } from "../../../plugins/snapshotter-stargz/estargz/names.ts";
import { parsedLayerOf, parseTocInThread, TableReader, tableFromParsed } from "../../../plugins/snapshotter-stargz/toc-parse.ts";
import { layerTar, noise, type EntrySpec } from "./helpers.ts";
import { CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

const LAYER = "sha256:" + "1".repeat(64);

/** The sample layer plus a hardlink to a multi-chunk file and many small files, prefetch landmark included. */
const ENTRIES: EntrySpec[] = [
  ...SAMPLE_ENTRIES,
  { name: "data/big-link", type: "link", linkname: "data/big.bin" },
  ...Array.from({ length: 200 }, (_, i) => ({ name: `many/f${i}`, data: i % 4 ? noise(100 + i * 37, i) : "" })),
];

async function blob(format: "gzip" | "zstd-chunked" = "gzip"): Promise<Uint8Array> {
  return (await buildEstargz(layerTar(ENTRIES), { chunkSize: CHUNK, prioritizedFiles: ["bin/su", "many/f3"], format })).blob!;
}

/** Everything the fetch thread reads off a table, per chunk, in id order. */
function rows(t: ChunkTable) {
  return t.chunks.map((c) => ({
    id: c.id, index: c.index, chunkOffset: c.chunkOffset, chunkSize: c.chunkSize, offset: c.offset, compressedEnd: c.compressedEnd, innerOffset: c.innerOffset,
    name: c.file.name, size: c.file.size, count: c.file.chunks.length,
    want: c.file.chunks[c.index].chunkDigest ?? (c.file.chunks.length === 1 ? c.file.digest : undefined),
  }));
}

/** Worker threads of this process (Bun names them "Worker"; JIT and GC helpers come and go). */
function threadCount(): number {
  return readdirSync("/proc/self/task").filter((t) => readFileSync(`/proc/self/task/${t}/comm`, "utf8").trim() === "Worker").length;
}

describe("TOC parse thread", () => {
  for (const format of ["gzip", "zstd-chunked"] as const) {
    test(`${format}: the table from the index and digests equals the TOC's own chunk table`, async () => {
      const b = await blob(format);
      const reader = await openEstargz(bytesSource(b), { layerDigest: LAYER });
      const want = buildChunkTable(reader.toc);
      const got = tableFromParsed(parsedLayerOf(reader.toc));
      expect(got.chunks.length).toBeGreaterThan(150);
      expect(rows(got)).toEqual(rows(want));
      expect([...got.byFile]).toEqual([...want.byFile]);
      // Files the index has no inode for (the landmark) are in the table too.
      expect(got.byFile.has(".prefetch.landmark")).toBe(true);
      expect(parsedLayerOf(reader.toc).landmark).toEqual({ kind: "prefetch", prefetchEnd: reader.landmark().prefetchEnd });
    });
  }

  test("parses in a thread of its own, which is gone once the answer is in", async () => {
    const b = await blob();
    const located: LocatedToc = await readToc(bytesSource(b), { layerDigest: LAYER });
    const want = rows(buildChunkTable(parseToc(located.json, { layerDigest: LAYER, payloadEnd: located.payloadEnd })));
    const before = threadCount();
    let during = 0;
    let done = false;
    // Sampled until the answer is in (the answer needs this thread's event loop, so at least one
    // sample is taken while the parse thread lives, however busy the machine).
    const parsing = parseTocInThread(LAYER, located.payloadEnd, located.json.slice()).finally(() => (done = true));
    while (!done) {
      during = Math.max(during, threadCount());
      await Bun.sleep(1);
    }
    const parsed = await parsing;
    expect(rows(tableFromParsed(parsed))).toEqual(want);
    expect(during).toBeGreaterThan(before);
    // terminate() is asynchronous: the thread goes within moments of the answer.
    for (let i = 0; i < 100 && threadCount() > before; i++) await Bun.sleep(20);
    expect(threadCount()).toBeLessThanOrEqual(before);
  });

  test("a bad TOC fails with the parser's message, naming layer and entry", async () => {
    const json = new TextEncoder().encode(JSON.stringify({ version: 1, entries: [{ name: "", type: "dir" }, { name: "a", type: "reg", size: 3, offset: 999 }] }));
    const local = (() => {
      try {
        parseToc(json, { layerDigest: LAYER, payloadEnd: 100 });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(local).toContain(`layer ${LAYER}: entry "a": data offset 999`);
    await expect(parseTocInThread(LAYER, 100, json.slice())).rejects.toThrow(local!);
    await expect(parseTocInThread(LAYER, 100, new TextEncoder().encode("{nope"))).rejects.toThrow(`layer ${LAYER}: TOC is not valid JSON`);
  });

  test("the table keeps nothing per file until a file is asked for", async () => {
    const files = 3000;
    const entries: EntrySpec[] = Array.from({ length: files }, (_, i) => ({ name: `d${i % 30}/f${i}`, data: noise(40 + (i % 200), i) }));
    const b = (await buildEstargz(layerTar(entries), { chunkSize: CHUNK })).blob!;
    const reader = await openEstargz(bytesSource(b), { layerDigest: LAYER });
    const parsed = parsedLayerOf(reader.toc);
    const counts = () => {
      for (let i = 0; i < 3; i++) Bun.gc(true);
      const t = heapStats().objectTypeCounts as Record<string, number>;
      return { arrays: t.Array ?? 0, strings: t.string ?? 0 };
    };
    const before = counts();
    const table = tableFromParsed(parsed);
    let end = 0;
    for (const c of table.chunks) end = Math.max(end, c.compressedEnd); // spans are read off the index
    // The chunks of one file are found from any of its chunks, without a table of all files.
    const some = table.chunks[1234];
    expect(fileChunkIds(some)).toContain(some.id);
    const after = counts();
    expect(table.chunks.length).toBeGreaterThanOrEqual(files);
    expect(end).toBeGreaterThan(0);
    // A file object, its chunk list and its name per file were 3 × 3000 objects here (6 MB for the Go toolchain).
    expect(after.arrays - before.arrays).toBeLessThan(files / 10);
    expect(after.strings - before.strings).toBeLessThan(files / 10);
    // What byFile says, fileChunkIds says for every chunk.
    for (const [, ids] of table.byFile) for (const id of ids) expect(fileChunkIds(table.chunks[id])).toEqual(ids);
    (globalThis as { keep?: unknown }).keep = table;
  });

  test("chunks of the table are checked like EstargzReader checks them", async () => {
    const b = await blob();
    const reader = await openEstargz(bytesSource(b), { layerDigest: LAYER });
    const table = tableFromParsed(parsedLayerOf(reader.toc));
    const tr = new TableReader(LAYER, reader.compression);
    const own = buildChunkTable(reader.toc);
    for (const c of table.chunks.filter((_, i) => i % 7 === 0)) {
      const span = b.subarray(c.offset, c.compressedEnd);
      expect(await tr.decodeChunk(c.file, c.index, span)).toEqual(await reader.decodeChunk(own.chunks[c.id].file as never, c.index, span));
    }
    // A span from elsewhere in the blob: the same digest mismatch error from both.
    const c = table.chunks.find((x) => x.file.name === "bin/busybox")!;
    const other = table.chunks.find((x) => x.file.name === "data/big.bin")!;
    const wrong = b.subarray(other.offset, other.compressedEnd);
    const message = await reader.decodeChunk(own.chunks[c.id].file as never, c.index, wrong).then(() => "", (e: Error) => e.message);
    expect(message).toContain("entry \"bin/busybox\"");
    await expect(tr.decodeChunk(c.file, c.index, wrong)).rejects.toThrow(message.includes("digest mismatch") ? message : "bin/busybox");
  });
});

describe("TOC shape check", () => {
  test("the in-place check and valibot's copy give the same parsed TOC", async () => {
    const reader = await openEstargz(bytesSource(await blob()), { layerDigest: LAYER });
    const json = JSON.parse(new TextDecoder().decode((await readToc(bytesSource(await blob()), { layerDigest: LAYER })).json));
    // Unknown keys (legacy NumLink) and an xattr named like an Object.prototype member stay harmless.
    json.entries[1].NumLink = 1;
    json.entries[2].xattrs = { constructor: "eA==", "user.x": "eQ==" };
    const ctx = { layerDigest: LAYER, payloadEnd: (reader as EstargzReader).payloadEnd };
    const viaValibot = normalizeToc(v.parse(TocSchema, json), ctx);
    const direct = parseToc(new TextEncoder().encode(JSON.stringify(json)), ctx);
    expect(direct.files).toEqual(viaValibot.files);
    expect([...direct.byName.keys()]).toEqual([...viaValibot.byName.keys()]);
  });

  test("what the quick check refuses still gets valibot's message", () => {
    const ctx = { layerDigest: LAYER, payloadEnd: 100 };
    const parse = (entries: unknown[]) => {
      try {
        parseToc(new TextEncoder().encode(JSON.stringify({ version: 1, entries })), ctx);
        return "ok";
      } catch (e) {
        return (e as Error).message;
      }
    };
    expect(parse([{ name: "", type: "dir" }, { name: "a", type: "reg", size: -1 }])).toContain('entry "a": TOC schema violation at size');
    expect(parse([{ name: "", type: "dir" }, { name: "a", type: "reg", digest: "sha256:XYZ" }])).toContain('entry "a": TOC schema violation at digest');
    expect(parse([{ name: "", type: "dir" }, { name: "a", type: "dir", xattrs: { k: 1 } }])).toContain('entry "a": TOC schema violation at xattrs');
    expect(parse([{ name: "", type: "dir" }, { name: "a", type: "dir", mode: 1.5 }])).toContain('entry "a": TOC schema violation at mode');
  });
});

describe("entry names", () => {
  test("clean names are taken as they are, every other name cleaned as before", () => {
    const cases: [string, string | undefined][] = [
      ["usr/bin/go", "usr/bin/go"], [".hidden/.x", ".hidden/.x"], ["...", "..."], ["a..b/c.", "a..b/c."],
      ["./usr/bin", "usr/bin"], ["usr//bin/", "usr/bin"], ["a/./b", "a/b"], ["a/b/../c", "a/c"], ["", ""], ["./", ""],
      ["..", undefined], ["a/../..", undefined], ["/etc", undefined], ["a\0b", undefined],
    ];
    for (const [raw, want] of cases) {
      const got = cleanEntryName(raw);
      expect({ raw, got: "name" in got ? got.name : undefined }).toEqual({ raw, got: want });
    }
  });
});
