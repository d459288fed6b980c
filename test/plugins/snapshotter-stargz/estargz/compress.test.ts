// decompressSpan sizes its output from the gzip trailer (one buffer, not 16 KiB pieces joined):
// the size is a hint only, so spans of several members, lying trailers and the output cap behave
// as without it.
import { describe, expect, test } from "bun:test";
import * as zlib from "node:zlib";
import { decompressSpan } from "../../../../plugins/snapshotter-stargz/estargz/compress.ts";

const text = (n: number, seed: number) => new Uint8Array(n).map((_, i) => (i * seed + (i >> 7)) & 0x7f);

describe("decompressSpan", () => {
  test("several gzip members: the whole span, though the trailer names the last one's size", () => {
    const a = text(300_000, 3);
    const b = text(1000, 5);
    const span = new Uint8Array(Buffer.concat([zlib.gzipSync(a), zlib.gzipSync(b)]));
    expect(decompressSpan("gzip", span)).toEqual(new Uint8Array(Buffer.concat([a, b])));
  });

  test("a trailer that lies about the size changes nothing (small or huge)", () => {
    const a = text(200_000, 7);
    for (const isize of [10, 0xffffff00]) {
      const gz = new Uint8Array(zlib.gzipSync(a));
      new DataView(gz.buffer, gz.byteOffset + gz.length - 4).setUint32(0, isize, true);
      // zlib checks ISIZE at the end: a wrong one is an error, as it was before the hint.
      expect(() => decompressSpan("gzip", gz)).toThrow();
    }
  });

  test("the output cap still holds when the trailer promises more", () => {
    const a = text(500_000, 11);
    const gz = new Uint8Array(zlib.gzipSync(a));
    let code: string | undefined;
    try {
      decompressSpan("gzip", gz, 100_000);
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe("ERR_BUFFER_TOO_LARGE");
    expect(decompressSpan("gzip", gz, 500_000)).toEqual(a);
  });

  test("zstd with its exact size as the cap, and without a cap", () => {
    const a = text(400_000, 13);
    const z = new Uint8Array(zlib.zstdCompressSync(a));
    expect(decompressSpan("zstd", z, a.length)).toEqual(a);
    expect(decompressSpan("zstd", z)).toEqual(a);
  });
});
