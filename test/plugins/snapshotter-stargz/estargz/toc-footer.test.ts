import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import {
  parseEstargzFooter,
  parseLegacyFooter,
  parseZstdFooter,
  writeEstargzFooter,
  writeLegacyFooter,
  writeZstdFooter,
} from "../../../../plugins/snapshotter-stargz/estargz/footer.ts";
import { bytesSource, openEstargz } from "../../../../plugins/snapshotter-stargz/estargz/reader.ts";
import { END_OF_ARCHIVE, padding, regularFileHeader } from "../../../../plugins/snapshotter-stargz/estargz/tar-write.ts";
import { parseToc } from "../../../../plugins/snapshotter-stargz/estargz/toc.ts";
import { marshalToc } from "../../../../plugins/snapshotter-stargz/estargz/toc-json.ts";
import { LAYER } from "./fixtures.ts";

const sha = (b: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;
const enc = (s: string) => new TextEncoder().encode(s);

describe("footers", () => {
  test("eStargz footer: 51 bytes, an empty gzip member, round trips", () => {
    const f = writeEstargzFooter(0x1234abcd);
    expect(f.length).toBe(51);
    expect(zlib.gunzipSync(f).length).toBe(0);
    expect(Buffer.from(f.subarray(16, 38)).toString()).toBe("000000001234abcdSTARGZ");
    expect(parseEstargzFooter(f)).toEqual({ tocOffset: 0x1234abcd });
    expect(parseLegacyFooter(f.subarray(4))).toHaveProperty("error");
  });

  test("legacy CRFS footer: 47 bytes, bare extra field, round trips", () => {
    const f = writeLegacyFooter(777);
    expect(f.length).toBe(47);
    expect(zlib.gunzipSync(f).length).toBe(0);
    expect(parseLegacyFooter(f)).toEqual({ tocOffset: 777 });
    expect(parseEstargzFooter(new Uint8Array(51))).toHaveProperty("error");
  });

  test("zstd:chunked footer: skippable frame with 40-byte payload, round trips", () => {
    const f = writeZstdFooter({ tocOffset: 100, tocCompressedSize: 20, tocUncompressedSize: 50 });
    expect(f.length).toBe(48);
    expect([...f.subarray(0, 8)]).toEqual([0x50, 0x2a, 0x4d, 0x18, 40, 0, 0, 0]);
    expect(Buffer.from(f.subarray(40)).toString()).toBe("GnUlInUx");
    expect(parseZstdFooter(f)).toEqual({ tocOffset: 100, tocCompressedSize: 20, tocUncompressedSize: 50 });
    const bad = new Uint8Array(f);
    bad[32] = 2;
    expect(parseZstdFooter(bad)).toEqual({ error: "zstd:chunked footer: manifest type is not 1 (CRFS)" });
  });

  test("corrupted footers say what is wrong", () => {
    const f = writeEstargzFooter(5);
    const a = new Uint8Array(f);
    a[12] = 0x41; // subfield id
    expect(parseEstargzFooter(a)).toEqual({ error: "eStargz footer: subfield id is not SG" });
    const b = new Uint8Array(f);
    b[20] = 0x7a; // 'z' in the hex offset
    expect((parseEstargzFooter(b) as { error: string }).error).toContain("is not hexadecimal");
  });
});

/** A blob by hand: members we choose, a TOC we choose, and either footer. */
function handBlob(members: Uint8Array[], toc: object, legacy = false) {
  const payload = Buffer.concat(members.map((m) => zlib.gzipSync(m)));
  const json = enc(JSON.stringify(toc));
  const tocMember = zlib.gzipSync(Buffer.concat([regularFileHeader("stargz.index.json", json.length), json, padding(json.length), END_OF_ARCHIVE]));
  const footer = legacy ? writeLegacyFooter(payload.length) : writeEstargzFooter(payload.length);
  return { blob: new Uint8Array(Buffer.concat([payload, tocMember, footer])), offsets: members.map((_, i) => Buffer.concat(members.slice(0, i).map((m) => zlib.gzipSync(m))).length) };
}

describe("TOC semantics", () => {
  test("innerOffset: several files in one member, digests keyed by file, not by offset", async () => {
    const head = new Uint8Array(512);
    const a = enc("alpha-");
    const b = enc("bravo!!");
    const { offsets } = handBlob([head, Buffer.concat([a, b])], { version: 1, entries: [] });
    const toc = {
      version: 1,
      entries: [
        { name: "a", type: "reg", size: a.length, offset: offsets[1], innerOffset: 0, digest: sha(a), chunkDigest: sha(a) },
        { name: "b", type: "reg", size: b.length, offset: offsets[1], innerOffset: a.length, digest: sha(b), chunkDigest: sha(b) },
      ],
    };
    const { blob: blob2 } = handBlob([head, Buffer.concat([a, b])], toc);
    const r = await openEstargz(bytesSource(blob2), { layerDigest: LAYER });
    expect(new TextDecoder().decode(await r.readFile(r.lookup("b")!))).toBe("bravo!!");
    expect(new TextDecoder().decode(await r.readFile(r.lookup("a")!))).toBe("alpha-");
    expect(r.chunkSpan(r.lookup("a")!, 0)).toEqual(r.chunkSpan(r.lookup("b")!, 0));
  });

  test("legacy stargz: 47-byte footer, no chunk digests, chunkSize 0 on the last chunk", async () => {
    const part1 = enc("0123456789");
    const part2 = enc("abc");
    const whole = Buffer.concat([part1, part2]);
    const head = new Uint8Array(512);
    const { offsets } = handBlob([head, part1, part2], { version: 1, entries: [] });
    const toc = {
      version: 1,
      entries: [
        { name: "./big", type: "reg", size: 13, offset: offsets[1], chunkSize: 10, NumLink: 1 },
        { name: "./big", type: "chunk", offset: offsets[2], chunkOffset: 10 },
        { name: "small", type: "reg", size: 0, digest: sha("") },
      ],
    };
    const { blob } = handBlob([head, part1, part2], toc, true);
    const strict = await openEstargz(bytesSource(blob), { layerDigest: LAYER });
    expect(strict.format).toBe("stargz-legacy");
    expect(strict.lookup("big")!.chunks.map((c) => c.chunkSize)).toEqual([10, 3]);
    await expect(strict.readChunk(strict.lookup("big")!, 1)).rejects.toThrow('entry "big": chunk 1 (file offset 10, blob offset');
    const lax = await openEstargz(bytesSource(blob), { layerDigest: LAYER, allowMissingDigests: true });
    expect(Buffer.from(await lax.readFile(lax.lookup("big")!)).equals(whole)).toBe(true);
  });

  test("a single-chunk file without chunkDigest is verified by its file digest", async () => {
    const data = enc("hello");
    const head = new Uint8Array(512);
    const { offsets } = handBlob([head, data], { version: 1, entries: [] });
    const good = handBlob([head, data], { version: 1, entries: [{ name: "f", type: "reg", size: 5, offset: offsets[1], digest: sha(data) }] }).blob;
    const r = await openEstargz(bytesSource(good), { layerDigest: LAYER });
    expect(new TextDecoder().decode(await r.readFile(r.lookup("f")!))).toBe("hello");
    const bad = handBlob([head, data], { version: 1, entries: [{ name: "f", type: "reg", size: 5, offset: offsets[1], digest: sha("other") }] }).blob;
    const r2 = await openEstargz(bytesSource(bad), { layerDigest: LAYER });
    await expect(r2.readFile(r2.lookup("f")!)).rejects.toThrow(`layer ${LAYER}: entry "f": chunk 0 (file offset 0, blob offset ${offsets[1]}): digest mismatch`);
  });

  test("names are cleaned, user/group names carried per id, modes masked, xattrs decoded", () => {
    const json = marshalToc([
      { name: "./", type: "dir", mode: 0o40755 },
      { name: "bin/", type: "dir", mode: 0o755, uid: 1, gid: 2, userName: "bin", groupName: "grp" },
      { name: "bin/x", type: "symlink", linkName: "../y", uid: 1, gid: 2, xattrs: { "user.k": Buffer.from([0, 255]).toString("base64") } },
      { name: "bin/z", type: "fifo", uid: 3, gid: 2 },
    ]);
    const { files } = parseToc(json, { layerDigest: LAYER, payloadEnd: 100 });
    expect(files.map((f) => f.name)).toEqual(["", "bin", "bin/x", "bin/z"]);
    expect(files[0].mode).toBe(0o755);
    expect(files[0].rawMode).toBe(0o40755);
    expect(files.map((f) => [f.userName, f.groupName])).toEqual([["", ""], ["bin", "grp"], ["bin", "grp"], ["", "grp"]]);
    expect(files[2].linkName).toBe("../y");
    expect([...files[2].xattrs["user.k"]]).toEqual([0, 255]);
  });

  test("TOC JSON is tab-indented with Go's field order and HTML escaping", () => {
    const text = new TextDecoder().decode(marshalToc([{ name: "a<b>&", type: "reg", size: 1, mode: 0o644, offset: 9, chunkDigest: "sha256:x", digest: "sha256:y" }]));
    expect(text).toBe('{\n\t"version": 1,\n\t"entries": [\n\t\t{\n\t\t\t"name": "a\\u003cb\\u003e\\u0026",\n\t\t\t"type": "reg",\n\t\t\t"size": 1,\n\t\t\t"mode": 420,\n\t\t\t"offset": 9,\n\t\t\t"digest": "sha256:y",\n\t\t\t"chunkDigest": "sha256:x"\n\t\t}\n\t]\n}');
  });
});
