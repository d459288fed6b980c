// The decoder pool's compressed copies go into buffers the decoders hand back (fresh memory costs
// a page fault per 4 KiB): a reused buffer, bigger than the chunk and holding an earlier chunk's
// bytes past its end, must decode and verify exactly like a fresh one.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { DecodePool, serveDecodes } from "../../../plugins/snapshotter-stargz/decode-pool.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { noise } from "./helpers.ts";

afterAll(removeTempDirs);

const sha = (b: Uint8Array) => `sha256:${new Bun.CryptoHasher("sha256").update(b).digest("hex")}`;

function pool(decoders: number): DecodePool {
  return new DecodePool(Array.from({ length: decoders }, () => {
    const ch = new MessageChannel();
    serveDecodes(ch.port1);
    return ch.port2;
  }));
}

describe("DecodePool buffers", () => {
  test("chunks decoded one after another reuse the buffers decoders give back, and every one is stored byte for byte", async () => {
    const dir = tempDir("decode-pool-");
    const p = pool(2);
    // Big, small, bigger, small: a small chunk lands in a buffer still holding a big one's bytes.
    const sizes = [1 << 20, 200_000, 3 << 20, 150_000, 1 << 20, 900_000, 200_000];
    for (const [i, size] of sizes.entries()) {
      const data = noise(size, i + 1); // incompressible: the compressed copy is as big as the chunk
      const path = join(dir, `c${i}`);
      const r = await p.decode({ kind: "gzip", compressed: gzipSync(data, { level: 1 }), innerOffset: 0, chunkSize: size, want: sha(data), path });
      expect(r).toMatchObject({ stored: true });
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(data))).toBe(true);
    }
    // Power-of-two buffers: 1 MiB+ → 2 MiB, 3 MiB+ → 4 MiB; the rest fit in those.
    expect(p.buffersAllocated).toBeLessThanOrEqual(3);
  });

  test("a tampered chunk decoded in a reused buffer is still refused and not stored", async () => {
    const dir = tempDir("decode-pool-");
    const p = pool(1);
    const good = noise(500_000, 7);
    expect(await p.decode({ kind: "gzip", compressed: gzipSync(good), innerOffset: 0, chunkSize: good.length, want: sha(good), path: join(dir, "good") })).toMatchObject({ stored: true });
    const bad = noise(400_000, 8);
    const want = sha(bad);
    bad[1234] ^= 0x55;
    const r = await p.decode({ kind: "gzip", compressed: gzipSync(bad), innerOffset: 0, chunkSize: bad.length, want, path: join(dir, "bad") });
    expect(p.buffersAllocated).toBe(1);
    expect("error" in r && r.error).toContain("digest mismatch");
    expect(existsSync(join(dir, "bad"))).toBe(false);
  });
});
