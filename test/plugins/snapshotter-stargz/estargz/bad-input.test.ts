// Every way a blob can be broken must fail with one line naming the layer digest (and the entry).
import { describe, expect, test } from "bun:test";
import { EstargzError } from "../../../../plugins/snapshotter-stargz/estargz/errors.ts";
import { bytesSource, openEstargz } from "../../../../plugins/snapshotter-stargz/estargz/reader.ts";
import { verifyBlob } from "../../../../plugins/snapshotter-stargz/estargz/verify.ts";
import { buildEstargz } from "../../../../plugins/snapshotter-stargz/estargz/writer.ts";
import { assemble, craftBase } from "./craft.ts";
import { LAYER, makeTar, pseudoRandom } from "./fixtures.ts";

async function openError(blob: Uint8Array, expectedTocDigest?: string): Promise<EstargzError> {
  try {
    await openEstargz(bytesSource(blob), { layerDigest: LAYER, expectedTocDigest });
  } catch (e) {
    expect(e).toBeInstanceOf(EstargzError);
    expect((e as Error).message).toContain(`layer ${LAYER}`);
    expect((e as Error).message).not.toContain("\n");
    return e as EstargzError;
  }
  throw new Error("expected the blob to be rejected");
}

const base = async () => craftBase(await makeTar([{ name: "dir/", type: "directory" }, { name: "dir/file", data: pseudoRandom(9000) }, { name: "other", data: "x" }]), 4000);
const encode = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));

describe("blob-level corruption", () => {
  test("truncated blob (footer cut off) is rejected", async () => {
    const blob = (await buildEstargz(await makeTar([{ name: "a", data: "1" }]))).blob!;
    const err = await openError(blob.subarray(0, blob.length - 10));
    expect(err.message).toContain("no eStargz, legacy stargz or zstd:chunked footer");
  });

  test("blob smaller than any footer is rejected", async () => {
    expect((await openError(new Uint8Array(20))).message).toContain("too small for any footer");
  });

  test("corrupt footer magic is rejected", async () => {
    const blob = new Uint8Array((await buildEstargz(await makeTar([{ name: "a", data: "1" }]))).blob!);
    blob[blob.length - 20] ^= 0xff; // inside "STARGZ"/offset text
    expect((await openError(blob)).message).toContain("footer");
  });

  test("footer pointing past the blob is rejected", async () => {
    const { payload, toc } = await base();
    const blob = assemble(payload, encode(toc));
    const bad = new Uint8Array(blob);
    bad.set(new TextEncoder().encode("00000000ffffffff"), bad.length - 51 + 16);
    expect((await openError(bad)).message).toContain("beyond the blob");
  });

  test("truncated zstd:chunked blob is rejected", async () => {
    const blob = (await buildEstargz(await makeTar([{ name: "a", data: "1" }]), { format: "zstd-chunked" })).blob!;
    expect((await openError(blob.subarray(0, blob.length - 1))).message).toContain("footer");
  });

  test("a TOC over the size limit is refused before it is parsed", async () => {
    for (const format of ["gzip", "zstd-chunked"] as const) {
      const blob = (await buildEstargz(await makeTar([{ name: "a", data: "1" }]), { format })).blob!;
      await expect(openEstargz(bytesSource(blob), { layerDigest: LAYER, maxTocSize: 100 })).rejects.toThrow(`layer ${LAYER}: TOC is`);
      await expect(openEstargz(bytesSource(blob), { layerDigest: LAYER, maxTocSize: 100 })).rejects.toThrow("100-byte limit");
    }
  });

  test("TOC digest mismatch against the annotation is rejected", async () => {
    const built = await buildEstargz(await makeTar([{ name: "a", data: "1" }]));
    const err = await openError(built.blob!, "sha256:" + "0".repeat(64));
    expect(err.message).toContain("TOC digest mismatch");
    expect(err.message).toContain(built.tocDigest);
  });

  test("tampered chunk bytes fail the read naming the file", async () => {
    const tar = await makeTar([{ name: "etc/passwd", data: pseudoRandom(5000) }]);
    const built = await buildEstargz(tar);
    const reader = await openEstargz(bytesSource(built.blob!), { layerDigest: LAYER });
    const f = reader.lookup("etc/passwd")!;
    // Rewrite the blob with a TOC whose chunk digest is wrong for the stored bytes.
    const { payload, toc } = await craftBase(tar);
    const entry = toc.entries.find((e) => e.name === "etc/passwd")!;
    entry.chunkDigest = "sha256:" + "1".repeat(64);
    const r2 = await openEstargz(bytesSource(assemble(payload, encode(toc))), { layerDigest: LAYER });
    await expect(r2.readFile(r2.lookup("etc/passwd")!)).rejects.toThrow(`layer ${LAYER}: entry "etc/passwd": chunk 0 (file offset 0`);
    await expect(r2.readFile(r2.lookup("etc/passwd")!)).rejects.toThrow("digest mismatch");
    // And flipping compressed bytes in the member makes decompression (CRC) or the digest fail.
    const blob = new Uint8Array(built.blob!);
    blob[f.chunks[0].offset + 100] ^= 0x01;
    const r3 = await openEstargz(bytesSource(blob), { layerDigest: LAYER });
    await expect(r3.readChunk(r3.lookup("etc/passwd")!, 0)).rejects.toThrow(`layer ${LAYER}: entry "etc/passwd": chunk 0`);
    await expect(verifyBlob(bytesSource(blob), { layerDigest: LAYER })).rejects.toThrow(`entry "etc/passwd"`);
  });
});

describe("TOC content rejections", () => {
  test("TOC that is not JSON", async () => {
    const { payload } = await base();
    expect((await openError(assemble(payload, "{not json"))).message).toContain("TOC is not valid JSON");
  });

  test("TOC that is not UTF-8", async () => {
    const { payload } = await base();
    expect((await openError(assemble(payload, new Uint8Array([0x7b, 0xff, 0x7d])))).message).toContain("TOC is not valid JSON");
  });

  test("schema violation names the entry and field", async () => {
    const { payload, toc } = await base();
    toc.entries.find((e) => e.name === "other")!.size = "big";
    const err = await openError(assemble(payload, encode(toc)));
    expect(err.message).toContain('entry "other"');
    expect(err.message).toContain("at size");
  });

  test("unknown entry type is a schema violation", async () => {
    const { payload, toc } = await base();
    toc.entries.find((e) => e.name === "other")!.type = "socket";
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "other": TOC schema violation at type');
  });

  test("entries not an array", async () => {
    const { payload } = await base();
    expect((await openError(assemble(payload, '{"version":1,"entries":{}}'))).message).toContain("TOC schema violation at entries");
  });

  test("`../x` and absolute names are rejected", async () => {
    for (const bad of ["../x", "a/../../x", "/etc/passwd"]) {
      const { payload, toc } = await base();
      toc.entries.find((e) => e.name === "other")!.name = bad;
      const err = await openError(assemble(payload, encode(toc)));
      expect(err.message).toContain(`entry ${JSON.stringify(bad)}`);
      expect(err.message).toMatch(/escapes the layer root|absolute name/);
    }
  });

  test("hardlink target outside the root is rejected", async () => {
    const { payload, toc } = await base();
    toc.entries.push({ name: "link", type: "hardlink", linkName: "../../etc/shadow" });
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "link": hardlink target "../../etc/shadow": name escapes the layer root');
  });

  test("paths through a symlink or file, and hardlinks to directories, are rejected", async () => {
    let { payload, toc } = await base();
    toc.entries.push({ name: "evil", type: "symlink", linkName: "/etc" }, { name: "evil/passwd", type: "reg" });
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "evil/passwd": parent "evil" is a symlink, not a directory');
    ({ payload, toc } = await base());
    toc.entries.push({ name: "dirlink", type: "hardlink", linkName: "dir" });
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "dirlink": hardlink to directory "dir"');
  });

  test("the writer refuses a tar its reader would refuse, naming the entry", async () => {
    const tar = await makeTar([{ name: "a", type: "symlink", linkname: "/etc" }, { name: "a/passwd", data: "root::0:0" }]);
    await expect(buildEstargz(tar)).rejects.toThrow('entry "a/passwd": parent "a" is a symlink, not a directory');
    await expect(buildEstargz(await makeTar([{ name: "../up", data: "x" }]))).rejects.toThrow('convert to eStargz: tar entry "../up": name escapes the layer root');
  });

  test("duplicate entries are rejected (after name cleaning)", async () => {
    const { payload, toc } = await base();
    toc.entries.push({ name: "./other/", type: "dir" });
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "other": duplicate entry in TOC');
  });

  test("data offset beyond the compressed payload is rejected", async () => {
    const { payload, toc } = await base();
    toc.entries.find((e) => e.name === "other")!.offset = payload.length + 10;
    const err = await openError(assemble(payload, encode(toc)));
    expect(err.message).toContain('entry "other": data offset');
    expect(err.message).toContain("beyond the compressed payload");
  });

  test("chunk that runs past the file size is rejected", async () => {
    const { payload, toc } = await base();
    const chunk = toc.entries.find((e) => e.type === "chunk" && e.chunkOffset === 8000)!;
    chunk.chunkSize = 5000;
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "dir/file": chunks cover 13000 bytes but the file size is 9000');
  });

  test("chunk entry that does not follow its file is rejected", async () => {
    const { payload, toc } = await base();
    toc.entries.push({ name: "dir/file", type: "chunk", offset: 100, chunkOffset: 100 });
    expect((await openError(assemble(payload, encode(toc)))).message).toContain("chunk entry does not follow its regular file");
  });

  test("offsets going backwards are rejected", async () => {
    const { payload, toc } = await base();
    toc.entries.find((e) => e.name === "other")!.offset = 1;
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "other": data offset 1 goes backwards');
  });

  test("bad modtime and bad xattr base64 are rejected", async () => {
    let { payload, toc } = await base();
    toc.entries.find((e) => e.name === "other")!.modtime = "yesterday";
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "other": modtime "yesterday" is not RFC 3339');
    ({ payload, toc } = await base());
    toc.entries.find((e) => e.name === "other")!.xattrs = { "user.a": "***" };
    expect((await openError(assemble(payload, encode(toc)))).message).toContain('entry "other": xattr "user.a" is not valid base64');
  });

  test("unknown keys (legacy NumLink) are ignored", async () => {
    const { payload, toc } = await base();
    for (const e of toc.entries) e.NumLink = 1;
    const r = await openEstargz(bytesSource(assemble(payload, encode(toc))), { layerDigest: LAYER });
    expect(new TextDecoder().decode(await r.readFile(r.lookup("other")!))).toBe("x");
  });
});
