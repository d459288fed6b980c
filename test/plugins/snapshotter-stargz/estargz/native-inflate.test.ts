// The native decompression path of lazy reads (libdeflate / libzstd into a caller's buffer) and the
// decoder job built on it: same bytes as node:zlib, bounded by the buffer, corrupt data refused.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as zlib from "node:zlib";
import { inflateInto, nativeInflateAvailable } from "../../../../plugins/snapshotter-stargz/estargz/native-inflate.ts";
import { runDecode } from "../../../../plugins/snapshotter-stargz/decode-pool.ts";
import { removeTempDirs, tempDir } from "../../../harness/temp-dir.ts";
import { noise } from "../helpers.ts";

afterAll(removeTempDirs);

const plain = Buffer.concat([noise(300_000, 3), Buffer.alloc(200_000, 7)]);
const sha = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

describe("native inflate", () => {
  test.each(["gzip", "zstd"] as const)("%s: the libraries are there and inflate what node:zlib wrote", (kind) => {
    expect(nativeInflateAvailable(kind)).toBe(true);
    const packed = kind === "gzip" ? zlib.gzipSync(plain) : Bun.zstdCompressSync(plain);
    const out = new Uint8Array(plain.length + 100);
    expect(inflateInto(kind, packed, out)).toBe(plain.length);
    expect(Buffer.from(out.subarray(0, plain.length)).equals(plain)).toBe(true);
  });

  test.each(["gzip", "zstd"] as const)("%s: output that does not fit the buffer is undefined (a bomb costs nothing)", (kind) => {
    const zeros = new Uint8Array(64 << 20);
    const bomb = kind === "gzip" ? zlib.gzipSync(zeros, { level: 9 }) : Bun.zstdCompressSync(zeros);
    expect(bomb.length).toBeLessThan(1 << 20);
    expect(inflateInto(kind, bomb, new Uint8Array(1 << 20))).toBeUndefined();
  });

  test("corrupt gzip (bad CRC) and garbage zstd throw instead of returning bytes", () => {
    const gz = new Uint8Array(zlib.gzipSync(plain));
    gz[gz.length - 6] ^= 0xff; // CRC32 in the trailer
    expect(() => inflateInto("gzip", gz, new Uint8Array(plain.length + 100))).toThrow(/invalid gzip/);
    const zs = new Uint8Array(Bun.zstdCompressSync(plain));
    zs.fill(0x55, 8, 64);
    expect(() => inflateInto("zstd", zs, new Uint8Array(plain.length + 100))).toThrow(/invalid zstd/);
  });

  test("only the first gzip member is inflated: the decoder falls back to node:zlib for the rest", () => {
    const two = Buffer.concat([zlib.gzipSync(plain.subarray(0, 1000)), zlib.gzipSync(plain.subarray(1000, 5000))]);
    expect(inflateInto("gzip", two, new Uint8Array(10_000))).toBe(1000);
    const r = runDecode({ id: 1, kind: "gzip", compressed: two, innerOffset: 500, chunkSize: 4000, want: sha(plain.subarray(500, 4500)) });
    expect("plain" in r && Buffer.from(r.plain).equals(plain.subarray(500, 4500))).toBe(true);
  });
});

describe("decoder job", () => {
  const chunk = plain.subarray(1000, 201_000);
  const job = (over: Partial<Parameters<typeof runDecode>[0]> = {}) => ({
    id: 7, kind: "gzip" as const, compressed: zlib.gzipSync(plain.subarray(0, 201_000)), innerOffset: 1000, chunkSize: 200_000, want: sha(chunk), ...over,
  });

  test("a verified chunk is written to the cache file and nothing comes back", () => {
    const path = join(tempDir("decode-"), "layer", "0-1000");
    expect(runDecode(job({ path }))).toEqual({ id: 7, stored: true });
    expect(readFileSync(path).equals(chunk)).toBe(true);
  });

  test("a digest mismatch writes nothing", () => {
    const path = join(tempDir("decode-"), "0-1000");
    const r = runDecode(job({ path, want: sha(plain.subarray(0, 200_000)) }));
    expect("error" in r && r.error).toContain("digest mismatch");
    expect(() => readFileSync(path)).toThrow();
  });

  test("a cache write that fails hands the verified bytes back with the reason", () => {
    const dir = tempDir("decode-");
    writeFileSync(join(dir, "file"), "x");
    const r = runDecode(job({ path: join(dir, "file", "0-1000") }));
    expect("plain" in r && Buffer.from(r.plain).equals(chunk)).toBe(true);
    expect("writeError" in r && r.writeError).toContain("ENOTDIR");
  });
});
