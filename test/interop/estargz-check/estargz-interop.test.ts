// Interop with the reference Go estargz package (Debian's v0.12.0): the reference must accept and
// verify every blob we write, and we must read every blob it writes, file for file.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK } from "../../../plugins/snapshotter-stargz/estargz/constants.ts";
import { sha256Digest } from "../../../plugins/snapshotter-stargz/estargz/digest.ts";
import { bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/reader.ts";
import { parseTar } from "../../../plugins/snapshotter-stargz/estargz/tar-read.ts";
import { verifyBlob } from "../../../plugins/snapshotter-stargz/estargz/verify.ts";
import { buildEstargz, type BuildOptions } from "../../../plugins/snapshotter-stargz/estargz/writer.ts";
import { cleanName, extractTar, makeTar, pseudoRandom, sampleTar } from "../../plugins/snapshotter-stargz/estargz/fixtures.ts";
import { buildChecker, goBuild, goMembers, goVerify, type CheckerVerifyResult } from "./build-checker.ts";

const TYPE_MAP: Record<string, string> = {
  file: "reg", directory: "dir", symlink: "symlink", link: "hardlink",
  "character-device": "char", "block-device": "block", fifo: "fifo",
};

let bin = "";
let dir = "";
beforeAll(() => {
  bin = buildChecker();
  dir = mkdtempSync(join(tmpdir(), "estargz-interop-"));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function interopTar(): Promise<Uint8Array> {
  const files = [];
  for (let i = 0; i < 40; i++) files.push({ name: `usr/share/f${i}`, data: pseudoRandom(i * 997, i + 1), uid: i % 3, gid: 7, uname: `user${i % 3}`, gname: "grp" });
  return makeTar([
    { name: "usr/", type: "directory" },
    { name: "usr/share/", type: "directory" },
    ...files,
    ...(await extractTar(await sampleTar())).map(({ header, data }) => ({
      name: header.name, type: header.type as never, data, mode: header.mode, uid: header.uid, gid: header.gid,
      uname: header.uname, gname: header.gname, mtime: header.mtime, linkname: header.linkname ?? undefined,
      devmajor: header.devmajor, devminor: header.devminor, pax: header.pax ?? undefined,
    })),
  ]);
}

/** The reference's view of a blob must match the source tar entry by entry. */
async function expectGoSeesTar(go: CheckerVerifyResult, tar: Uint8Array) {
  for (const { header, data } of await extractTar(tar)) {
    const name = cleanName(header.name);
    const f = go.files[name];
    expect(f, name).toBeDefined();
    expect(f.type).toBe(TYPE_MAP[header.type!]);
    if (header.type === "link") {
      expect(f.linkName).toBe(cleanName(header.linkname!));
      continue; // the reference reports a hardlink's metadata through its target
    }
    expect([f.mode, f.uid, f.gid]).toEqual([header.mode!, header.uid!, header.gid!]);
    if (header.uname) expect(f.userName).toBe(header.uname); // (its groupName carry-forward has a bug)
    if (header.type === "symlink") expect(f.linkName).toBe(header.linkname!);
    if (header.type === "file") expect([f.size, f.digest]).toEqual([data.length, sha256Digest(data)]);
    if (header.type === "character-device" || header.type === "block-device") expect([f.devMajor ?? 0, f.devMinor ?? 0]).toEqual([header.devmajor!, header.devminor!]);
    for (const [k, v] of Object.entries(header.pax ?? {})) {
      if (k.startsWith("SCHILY.xattr.")) expect(Buffer.from(f.xattrs![k.slice(13)], "base64").toString()).toBe(v);
    }
  }
}

/** Our reader's view of a blob must match the source tar, and our verifier must accept it. */
async function expectWeReadTar(blob: Uint8Array, tar: Uint8Array, tocDigest: string, diffID: string) {
  const reader = await openEstargz(bytesSource(blob), { layerDigest: sha256Digest(blob), expectedTocDigest: tocDigest });
  const source = await extractTar(tar);
  // The TOC cannot say "no name": an entry without one shows the last name seen for its id, in
  // blob order.
  const byName = new Map(source.map((s) => [cleanName(s.header.name), s.header]));
  const expectedNames = new Map<string, [string, string]>();
  const users = new Map<number, string>();
  const groups = new Map<number, string>();
  for (const e of reader.entries) {
    const h = byName.get(e.name);
    if (!h) continue;
    if (h.uname) users.set(h.uid!, h.uname);
    if (h.gname) groups.set(h.gid!, h.gname);
    expectedNames.set(e.name, [h.uname || users.get(h.uid!) || "", h.gname || groups.get(h.gid!) || ""]);
  }
  for (const { header, data } of source) {
    const f = reader.lookup(cleanName(header.name));
    expect(f, header.name).toBeDefined();
    expect([f!.type as string, f!.mode, f!.uid, f!.gid]).toEqual([TYPE_MAP[header.type!], header.mode! & 0o7777, header.uid!, header.gid!]);
    expect([f!.userName, f!.groupName]).toEqual(expectedNames.get(f!.name)!);
    if (header.type === "file") expect(sha256Digest(await reader.readFile(f!))).toBe(sha256Digest(data));
  }
  const report = await verifyBlob(bytesSource(blob), { layerDigest: sha256Digest(blob), expectedTocDigest: tocDigest, expectedDiffID: diffID });
  expect(report.files).toBeGreaterThanOrEqual(source.filter((s) => s.header.type === "file").length);
  return reader;
}

/** Raw TOC entries of a blob, with compressed offsets removed (they depend on the compressor). */
async function tocWithoutOffsets(blob: Uint8Array): Promise<unknown[]> {
  const reader = await openEstargz(bytesSource(blob), { layerDigest: "toc-compare" });
  let json: Uint8Array;
  if (reader.format === "zstd-chunked") {
    const footer = new DataView(blob.buffer, blob.byteOffset + blob.length - 40, 40);
    json = zlib.zstdDecompressSync(blob.subarray(reader.tocOffset, reader.tocOffset + Number(footer.getBigUint64(8, true))));
  } else {
    const tocTar = new Uint8Array(zlib.gunzipSync(blob.subarray(reader.tocOffset, blob.length - reader.footerSize)));
    const e = parseTar(tocTar)[0];
    json = tocTar.subarray(e.dataStart, e.dataStart + e.size);
  }
  return (JSON.parse(new TextDecoder().decode(json)).entries as Record<string, unknown>[]).map(({ offset: _offset, ...rest }) => rest);
}

describe("reference Go estargz reads our blobs", () => {
  const cases: [string, BuildOptions][] = [
    ["gzip, default chunk size, no prioritized files", {}],
    ["gzip, 5000-byte chunks, prioritized files incl. a hardlink", { chunkSize: 5000, prioritizedFiles: ["bin/hard", "usr/share/f3"] }],
    ["zstd:chunked, 5000-byte chunks", { format: "zstd-chunked", chunkSize: 5000 }],
    ["zstd:chunked, prioritized files", { format: "zstd-chunked", prioritizedFiles: ["etc/hostname"] }],
  ];
  for (const [label, opts] of cases) {
    test(`[slow] ${label}: TOC digest, every chunk digest and the diffID check out`, async () => {
      const tar = await interopTar();
      const built = await buildEstargz(tar, opts);
      const path = join(dir, "ours.blob");
      await Bun.write(path, built.blob!);
      const go = goVerify(bin, path, built.tocDigest);
      expect(go.tocDigest).toBe(built.tocDigest);
      expect(go.diffID).toBe(built.diffID);
      expect(go.uncompressedSize).toBe(built.uncompressedSize);
      await expectGoSeesTar(go, tar);
      expect(go.files[opts.prioritizedFiles ? PREFETCH_LANDMARK : NO_PREFETCH_LANDMARK]).toBeDefined();
    });
  }

  test("[slow] the checker really fails: wrong TOC digest and a tampered chunk are rejected by the reference", async () => {
    const built = await buildEstargz(await interopTar(), { chunkSize: 5000 });
    const path = join(dir, "bad.blob");
    await Bun.write(path, built.blob!);
    expect(() => goVerify(bin, path, "sha256:" + "0".repeat(64))).toThrow("invalid TOC JSON");
    const reader = await openEstargz(bytesSource(built.blob!), { layerDigest: "x" });
    const f = reader.lookup("usr/share/f20")!;
    const tampered = new Uint8Array(built.blob!);
    tampered[f.chunks[1].offset + 40] ^= 0x55;
    await Bun.write(path, tampered);
    expect(() => goVerify(bin, path, built.tocDigest)).toThrow("reference estargz rejected");
  });
});

describe("we read the reference's blobs", () => {
  const cases: [string, { zstd?: boolean; chunkSize?: number; prioritized?: string[] }][] = [
    ["gzip, default options", {}],
    ["gzip, 5000-byte chunks, prioritized files", { chunkSize: 5000, prioritized: ["bin/hard", "usr/share/f3"] }],
    ["zstd:chunked, 5000-byte chunks", { zstd: true, chunkSize: 5000 }],
    ["zstd:chunked, prioritized files", { zstd: true, prioritized: ["bin/hard", "usr/share/f3"] }],
  ];
  for (const [label, opts] of cases) {
    test(`[slow] ${label}: file for file against the source tar; same TOC as ours apart from offsets`, async () => {
      const tar = await interopTar();
      const tarPath = join(dir, "in.tar");
      const outPath = join(dir, "go.blob");
      await Bun.write(tarPath, tar);
      const go = goBuild(bin, tarPath, outPath, opts);
      const blob = await Bun.file(outPath).bytes();
      const reader = await expectWeReadTar(blob, tar, go.tocDigest, go.diffID);
      if (opts.prioritized) {
        expect(reader.landmark().kind).toBe("prefetch");
        expect(reader.landmark().prioritizedFiles).toEqual(["bin/big", "bin/hard", "usr/share/f3"]);
      }
      const ours = await buildEstargz(tar, { format: opts.zstd ? "zstd-chunked" : "gzip", chunkSize: opts.chunkSize, prioritizedFiles: opts.prioritized });
      expect(await tocWithoutOffsets(ours.blob!)).toEqual(await tocWithoutOffsets(blob));
    });
  }
});

describe("same member layout as the reference (what bench/convert.ts's size decomposition relies on)", () => {
  test("[slow] gzip members cut at the same uncompressed offsets; Go -9 on the reference's member bytes gives back its exact sizes", async () => {
    const tar = await interopTar();
    const tarPath = join(dir, "layout.tar");
    const refPath = join(dir, "layout-ref.blob");
    const oursPath = join(dir, "layout-ours.blob");
    await Bun.write(tarPath, tar);
    goBuild(bin, tarPath, refPath, { chunkSize: 5000 }); // one part (GOMAXPROCS=1): no extra member at part ends
    const ours = await buildEstargz(tar, { chunkSize: 5000 });
    await Bun.write(oursPath, ours.blob!);
    const [ref, mine] = [await goMembers(bin, refPath), await goMembers(bin, oursPath)];
    // Members tile each blob; every chunk of our TOC starts a member.
    for (const [ms, size] of [[ref, Bun.file(refPath).size], [mine, ours.blob!.length]] as const) {
      expect(ms.reduce((a, m) => a + m.compressed, 0)).toBe(size);
      ms.forEach((m, i) => i > 0 && expect(m.offset).toBe(ms[i - 1].offset + ms[i - 1].compressed));
    }
    const reader = await openEstargz(bytesSource(ours.blob!), { layerDigest: "layout" });
    const starts = new Set(mine.map((m) => m.offset));
    for (const e of reader.entries) for (const c of e.chunks) expect(starts.has(c.offset)).toBe(true);
    // Same cuts (the TOC member differs only by offset digits, so leave it out).
    const cuts = (ms: typeof ref) => ms.slice(0, -2).map((m) => m.plain);
    expect(cuts(mine)).toEqual(cuts(ref));
    // The reference's codec is Go's compress/gzip at -9: recompressing its member bytes reproduces them
    // (all but the footer, which it writes with NoCompression).
    for (const m of ref.slice(0, -1)) expect(m.goSize).toBe(m.compressed);
  });
});
