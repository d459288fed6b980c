import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK } from "../../../../plugins/snapshotter-stargz/estargz/constants.ts";
import { bytesSource, openEstargz, type EstargzReader } from "../../../../plugins/snapshotter-stargz/estargz/reader.ts";
import type { FileType } from "../../../../plugins/snapshotter-stargz/estargz/toc.ts";
import { buildEstargz, type BuildOptions } from "../../../../plugins/snapshotter-stargz/estargz/writer.ts";
import { cleanName, extractTar, LAYER, makeTar, pseudoRandom, sampleTar } from "./fixtures.ts";

const TYPE_MAP: Record<string, FileType> = {
  file: "reg", directory: "dir", symlink: "symlink", link: "hardlink",
  "character-device": "char", "block-device": "block", fifo: "fifo",
};

/** Every entry of the source tar must come back from the reader with the same metadata and bytes. */
async function expectSameAsTar(reader: EstargzReader, tar: Uint8Array) {
  const source = await extractTar(tar);
  for (const { header, data } of source) {
    const name = cleanName(header.name);
    const f = reader.lookup(name);
    expect(f, name).toBeDefined();
    expect(f!.type).toBe(TYPE_MAP[header.type!]);
    expect(f!.mode).toBe(header.mode! & 0o7777);
    expect(f!.uid).toBe(header.uid!);
    expect(f!.gid).toBe(header.gid!);
    expect(f!.userName).toBe(header.uname ?? "");
    expect(f!.groupName).toBe(header.gname ?? "");
    expect(f!.mtime).toBe(Math.floor(header.mtime!.getTime() / 1000));
    if (header.type === "symlink") expect(f!.linkName).toBe(header.linkname!);
    if (header.type === "link") expect(f!.linkName).toBe(cleanName(header.linkname!));
    if (header.type === "character-device" || header.type === "block-device") {
      expect([f!.devMajor, f!.devMinor]).toEqual([header.devmajor!, header.devminor!]);
    }
    for (const [k, v] of Object.entries(header.pax ?? {})) {
      if (k.startsWith("SCHILY.xattr.")) expect(new TextDecoder().decode(f!.xattrs[k.slice(13)])).toBe(v);
    }
    if (header.type === "file") {
      expect(f!.size).toBe(data.length);
      expect(Buffer.from(await reader.readFile(f!)).equals(Buffer.from(data))).toBe(true);
    }
    if (header.type === "link") {
      expect(Buffer.from(await reader.readFile(f!)).equals(Buffer.from(source.find((s) => cleanName(s.header.name) === f!.linkName)!.data))).toBe(true);
    }
  }
  const names = reader.entries.map((e) => e.name).filter((n) => n !== PREFETCH_LANDMARK && n !== NO_PREFETCH_LANDMARK);
  expect(names.sort()).toEqual(source.map((s) => cleanName(s.header.name)).sort());
}

async function roundTrip(tar: Uint8Array, opts: BuildOptions = {}) {
  const built = await buildEstargz(tar, opts);
  const reader = await openEstargz(bytesSource(built.blob!), { layerDigest: LAYER, expectedTocDigest: built.tocDigest });
  return { built, reader };
}

describe("eStargz writer → reader round trip", () => {
  for (const format of ["gzip", "zstd-chunked"] as const) {
    test(`${format}: every entry kind comes back identical`, async () => {
      const tar = await sampleTar();
      const { built, reader } = await roundTrip(tar, { format });
      expect(reader.format).toBe(format === "gzip" ? "estargz" : "zstd-chunked");
      await expectSameAsTar(reader, tar);
      expect(built.compressedSize).toBe(built.blob!.length);
      expect(built.annotations["containerd.io/snapshot/stargz/toc.digest"]).toBe(built.tocDigest);
      expect(built.annotations["io.containers.estargz.uncompressed-size"]).toBe(String(built.uncompressedSize));
    });

    test(`${format}: a file bigger than the chunk size is split, each chunk its own member`, async () => {
      const big = pseudoRandom(10_000, 7);
      const tar = await makeTar([{ name: "big", data: big }, { name: "exact", data: pseudoRandom(3000, 3) }]);
      const { reader } = await roundTrip(tar, { format, chunkSize: 3000 });
      const f = reader.lookup("big")!;
      expect(f.chunks.map((c) => [c.chunkOffset, c.chunkSize])).toEqual([[0, 3000], [3000, 3000], [6000, 3000], [9000, 1000]]);
      expect(new Set(f.chunks.map((c) => c.offset)).size).toBe(4);
      for (let i = 0; i < 4; i++) expect(Buffer.from(await reader.readChunk(f, i)).equals(Buffer.from(big.subarray(i * 3000, i * 3000 + 3000)))).toBe(true);
      expect(reader.lookup("exact")!.chunks).toHaveLength(1);
      await expectSameAsTar(reader, tar);
    });
  }

  test("the blob decompresses to the same tar stream a plain gunzip sees, and its sha256 is the diffID", async () => {
    const tar = await sampleTar();
    const { built } = await roundTrip(tar, { chunkSize: 20_000 });
    const plain = zlib.gunzipSync(built.blob!);
    expect(plain.length).toBe(built.uncompressedSize);
    expect(`sha256:${new Bun.CryptoHasher("sha256").update(plain).digest("hex")}`).toBe(built.diffID);
    const names = (await extractTar(new Uint8Array(plain))).map((e) => e.header.name);
    expect(names[0]).toBe(NO_PREFETCH_LANDMARK);
    expect(names.at(-1)).toBe("stargz.index.json");
    expect(names).toHaveLength((await extractTar(tar)).length + 2);
  });

  test("GNU tar lists the gzip blob and the zstd:chunked blob like a normal layer", async () => {
    const tar = await sampleTar();
    for (const [format, flag] of [["gzip", "-z"], ["zstd-chunked", "--zstd"]] as const) {
      const { built } = await roundTrip(tar, { format });
      const proc = Bun.spawnSync(["tar", flag, "-tf", "-"], { stdin: built.blob! });
      expect(proc.exitCode).toBe(0);
      const listed = proc.stdout.toString().trim().split("\n").map(cleanName);
      for (const e of await extractTar(tar)) expect(listed).toContain(cleanName(e.header.name));
    }
  });

  test("zstd:chunked: TOC lives in a skippable frame and the annotations locate it", async () => {
    const tar = await sampleTar();
    const { built, reader } = await roundTrip(tar, { format: "zstd-chunked" });
    const [off, clen, ulen, type] = built.annotations["io.containers.zstd-chunked.manifest-position"].split(":").map(Number);
    expect(type).toBe(1);
    expect(off).toBe(reader.tocOffset);
    const compressedToc = built.blob!.subarray(off, off + clen);
    expect(built.annotations["io.containers.zstd-chunked.manifest-checksum"]).toBe(`sha256:${new Bun.CryptoHasher("sha256").update(compressedToc).digest("hex")}`);
    const json = zlib.zstdDecompressSync(compressedToc);
    expect(json.length).toBe(ulen);
    expect(`sha256:${new Bun.CryptoHasher("sha256").update(json).digest("hex")}`).toBe(built.tocDigest);
  });

  test("output does not depend on input form: bytes, stream, gzip-compressed tar, file path", async () => {
    const tar = await sampleTar();
    const a = await buildEstargz(tar);
    const b = await buildEstargz(new Blob([tar]).stream());
    const c = await buildEstargz(new Uint8Array(zlib.gzipSync(tar)));
    const path = `/tmp/estargz-test-${process.pid}.tar`;
    await Bun.write(path, tar);
    try {
      const d = await buildEstargz({ path });
      for (const x of [b, c, d]) expect(Buffer.from(x.blob!).equals(Buffer.from(a.blob!))).toBe(true);
    } finally {
      await Bun.file(path).delete();
    }
  });

  test("a sink receives exactly the blob, and compression level changes bytes but not content", async () => {
    const tar = await sampleTar();
    const parts: Uint8Array[] = [];
    const viaSink = await buildEstargz(tar, { sink: (b) => void parts.push(b) });
    expect(viaSink.blob).toBeUndefined();
    const whole = await buildEstargz(tar);
    expect(Buffer.concat(parts).equals(Buffer.from(whole.blob!))).toBe(true);
    // (The diffID covers the TOC, whose offsets depend on compressed sizes, so it changes too.)
    const fast = await buildEstargz(tar, { level: 1 });
    expect(fast.blob!.length).toBeGreaterThan(whole.blob!.length);
    await expectSameAsTar(await openEstargz(bytesSource(fast.blob!), { layerDigest: LAYER }), tar);
  });

  test("the TOC member is the smaller of zlib's default and Z_FILTERED compressions (level 9 default loses on JSON)", async () => {
    const files = Array.from({ length: 1000 }, (_, i) => ({ name: `usr/share/doc/package-${i % 97}/file-${i}.txt`, data: `content ${i}\n`, mtime: new Date(1_700_000_000_000 + i * 1000) }));
    const { built, reader } = await roundTrip(await makeTar(files));
    const member = built.blob!.subarray(reader.tocOffset, built.blob!.length - 51);
    const tocTar = zlib.gunzipSync(member);
    const plain = zlib.gzipSync(tocTar, { level: 9 }).length;
    const filtered = zlib.gzipSync(tocTar, { level: 9, strategy: zlib.constants.Z_FILTERED }).length;
    expect(member.length).toBe(Math.min(plain, filtered));
    expect(filtered).toBeLessThan(plain); // the case this guards: Bun's zlib -9 on TOC JSON
  });

  test("compressing on Workers gives the same bytes as on this thread", async () => {
    const tar = await makeTar([{ name: "a", data: pseudoRandom(300_000, 5) }, { name: "b", data: pseudoRandom(200_000, 6) }, { name: "c", data: "small" }]);
    for (const format of ["gzip", "zstd-chunked"] as const) {
      const single = await buildEstargz(tar, { format, chunkSize: 100_000 });
      const pooled = await buildEstargz(tar, { format, chunkSize: 100_000, workers: 2 });
      expect(Buffer.from(pooled.blob!).equals(Buffer.from(single.blob!))).toBe(true);
      expect(pooled.diffID).toBe(single.diffID);
    }
  });

  test("later duplicates replace earlier entries; input landmarks and TOC entries are dropped", async () => {
    const tar = await makeTar([
      { name: "a", data: "first" },
      { name: ".prefetch.landmark", data: "\u000f" },
      { name: "stargz.index.json", data: "{}" },
      { name: "./a", data: "second" },
    ]);
    const { reader } = await roundTrip(tar);
    expect(reader.entries.map((e) => e.name)).toEqual([NO_PREFETCH_LANDMARK, "a"]);
    expect(new TextDecoder().decode(await reader.readFile(reader.lookup("a")!))).toBe("second");
  });

  test("user and group names are written once per id and carried forward by the reader", async () => {
    const tar = await makeTar([
      { name: "a", data: "1", uid: 5, gid: 6, uname: "u5", gname: "g6" },
      { name: "b", data: "2", uid: 5, gid: 6, uname: "u5", gname: "g6" },
      { name: "c", data: "3", uid: 7, gid: 6, uname: "u7", gname: "g6" },
    ]);
    const { built, reader } = await roundTrip(tar);
    const tocText = zlib.gunzipSync(built.blob!.subarray(reader.tocOffset)).toString();
    expect(tocText.match(/"userName": "u5"/g)).toHaveLength(1);
    expect(tocText.match(/"groupName": "g6"/g)).toHaveLength(1);
    expect(["a", "b", "c"].map((n) => [reader.lookup(n)!.userName, reader.lookup(n)!.groupName])).toEqual([["u5", "g6"], ["u5", "g6"], ["u7", "g6"]]);
  });
});

describe("prioritized files and landmarks", () => {
  const layer = () =>
    makeTar([
      { name: "usr/", type: "directory" },
      { name: "usr/bin/", type: "directory" },
      { name: "usr/bin/tool", data: "tool" },
      { name: "usr/lib/", type: "directory" },
      { name: "usr/lib/libx.so", data: pseudoRandom(5000) },
      { name: "usr/bin/alias", type: "link", linkname: "usr/lib/libx.so" },
      { name: "etc/", type: "directory" },
      { name: "etc/conf", data: "conf" },
    ]);

  test("no prioritized files: .no.prefetch.landmark comes first and nothing is prefetched", async () => {
    const { reader } = await roundTrip(await layer());
    expect(reader.entries[0].name).toBe(NO_PREFETCH_LANDMARK);
    expect(reader.landmark()).toEqual({ kind: "no-prefetch", prefetchEnd: 0, prioritizedFiles: [] });
  });

  test("prioritized files go first with parents and hardlink targets ahead, then .prefetch.landmark", async () => {
    const { reader } = await roundTrip(await layer(), { prioritizedFiles: ["/usr/bin/alias", "etc/conf"] });
    const order = reader.entries.map((e) => e.name);
    expect(order.slice(0, 8)).toEqual(["usr", "usr/bin", "usr/lib", "usr/lib/libx.so", "usr/bin/alias", "etc", "etc/conf", PREFETCH_LANDMARK]);
    const mark = reader.landmark();
    expect(mark.kind).toBe("prefetch");
    expect(mark.prioritizedFiles).toEqual(["usr/lib/libx.so", "usr/bin/alias", "etc/conf"]);
    // Everything a prioritized file needs lies below the prefetch end; the rest lies above it.
    const conf = reader.lookup("etc/conf")!.chunks[0];
    expect(conf.compressedEnd).toBeLessThanOrEqual(mark.prefetchEnd!);
    expect(mark.prefetchEnd).toBe(reader.lookup(PREFETCH_LANDMARK)!.chunks[0].offset);
    expect(reader.lookup("usr/bin/tool")!.chunks[0].offset).toBeGreaterThan(mark.prefetchEnd!);
  });

  test("a missing prioritized file fails unless allowed, then it is reported", async () => {
    const tar = await layer();
    await expect(buildEstargz(tar, { prioritizedFiles: ["nope"] })).rejects.toThrow('prioritized file "nope" is not in the layer');
    const built = await buildEstargz(tar, { prioritizedFiles: ["nope", "etc/conf"], allowMissingPrioritized: true });
    expect(built.missedPrioritizedFiles).toEqual(["nope"]);
    const reader = await openEstargz(bytesSource(built.blob!), { layerDigest: LAYER });
    expect(reader.landmark().prioritizedFiles).toEqual(["etc/conf"]);
  });

  test("tree(): children by base name, implicit parent directories made up as 0755 root dirs", async () => {
    const { reader } = await roundTrip(await makeTar([{ name: "x/y/z", data: "1" }, { name: "top", type: "directory", mode: 0o700 }]));
    const tree = reader.tree();
    expect([...tree.children.get("")!.keys()].sort()).toEqual([NO_PREFETCH_LANDMARK, "top", "x"]);
    expect([...tree.children.get("x")!.keys()]).toEqual(["y"]);
    expect(tree.children.get("x/y")!.get("z")!.size).toBe(1);
    expect(tree.children.get("top")!.size).toBe(0);
    expect(tree.implicitDirs.map((d) => [d.name, d.mode])).toEqual([["", 0o755], ["x/y", 0o755], ["x", 0o755]]);
  });

  test("a prioritized file whose parent directory has no entry in the layer is still placed first", async () => {
    const { reader } = await roundTrip(await makeTar([{ name: "x/y", data: "1" }, { name: "z", data: "2" }]), { prioritizedFiles: ["z", "x/y"] });
    expect(reader.entries.map((e) => e.name)).toEqual(["z", "x/y", PREFETCH_LANDMARK]);
  });
});
