import { describe, expect, test } from "bun:test";
import { sha256Digest } from "../../../../plugins/snapshotter-stargz/estargz/digest.ts";
import { bytesSource } from "../../../../plugins/snapshotter-stargz/estargz/reader.ts";
import { verifyBlob } from "../../../../plugins/snapshotter-stargz/estargz/verify.ts";
import { buildEstargz } from "../../../../plugins/snapshotter-stargz/estargz/writer.ts";
import { assemble, craftBase } from "./craft.ts";
import { LAYER, makeTar, pseudoRandom, sampleTar } from "./fixtures.ts";

describe("verifyBlob", () => {
  for (const format of ["gzip", "zstd-chunked"] as const) {
    test(`${format}: checks every chunk and reports the writer's digests`, async () => {
      const built = await buildEstargz(await sampleTar(), { format, chunkSize: 16_000 });
      const blobDigest = sha256Digest(built.blob!);
      const report = await verifyBlob(bytesSource(built.blob!), {
        layerDigest: blobDigest,
        expectedTocDigest: built.tocDigest,
        expectedDiffID: built.diffID,
        readSize: 4096,
      });
      expect(report).toEqual({
        format: format === "gzip" ? "estargz" : "zstd-chunked",
        tocDigest: built.tocDigest,
        blobDigest,
        compressedSize: built.blob!.length,
        diffID: built.diffID,
        uncompressedSize: built.uncompressedSize,
        files: 8, // 7 regular files + the landmark
        chunks: 13, // 7 for the 100 kB file, 1 each for the others except the empty one
      });
    });
  }

  test("wrong diffID, wrong blob digest and wrong file digest are each reported", async () => {
    const built = await buildEstargz(await makeTar([{ name: "a", data: pseudoRandom(1000) }]));
    const src = bytesSource(built.blob!);
    await expect(verifyBlob(src, { layerDigest: LAYER, expectedBlobDigest: sha256Digest(built.blob!), expectedDiffID: "sha256:" + "2".repeat(64) })).rejects.toThrow(`layer ${LAYER}: diffID mismatch: expected sha256:2222`);
    await expect(verifyBlob(src, { layerDigest: LAYER })).rejects.toThrow(`layer ${LAYER}: blob digest mismatch`);
    const { payload, toc } = await craftBase(await makeTar([{ name: "a", data: pseudoRandom(1000) }]));
    toc.entries.find((e) => e.name === "a")!.digest = "sha256:" + "3".repeat(64);
    await expect(verifyBlob(bytesSource(assemble(payload, JSON.stringify(toc))), { layerDigest: "blob-under-test" })).rejects.toThrow('layer blob-under-test: entry "a": file digest mismatch');
  });

  test("a TOC that disagrees with the tar stream is caught (what the lazy FS serves = what unpacking gives)", async () => {
    const tar = await makeTar([{ name: "a", data: pseudoRandom(1000) }, { name: "b", data: "bee", mode: 0o600 }]);
    let { payload, toc } = await craftBase(tar);
    toc.entries.find((e) => e.name === "b")!.mode = 0o4755;
    await expect(verifyBlob(bytesSource(assemble(payload, JSON.stringify(toc))), { layerDigest: "L" })).rejects.toThrow('layer L: entry "b": tar stream and TOC disagree on mode: stream has 384, TOC has 2541');
    ({ payload, toc } = await craftBase(tar));
    toc.entries = toc.entries.filter((e) => e.name !== "b");
    await expect(verifyBlob(bytesSource(assemble(payload, JSON.stringify(toc))), { layerDigest: "L" })).rejects.toThrow("tar stream has 3 entries but the TOC has 2");
  });
});
