// The chunk fetcher without a registry: one request per chunk however many wait, adjacent chunks
// merged, every chunk verified before it is cached.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { ByteRange, RegistryClient } from "../../../core/registry/client.ts";
import { BlobSource } from "../../../plugins/snapshotter-stargz/blob-source.ts";
import { ChunkCache } from "../../../plugins/snapshotter-stargz/cache.ts";
import { buildEstargz, bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { LayerFetcher } from "../../../plugins/snapshotter-stargz/fetcher.ts";
import { DecodePool, serveDecodes } from "../../../plugins/snapshotter-stargz/decode-pool.ts";
import { buildChunkTable } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { layerTar, noise } from "./helpers.ts";

afterAll(removeTempDirs);

const DIGEST = `sha256:${"ab".repeat(32)}`;
const big = noise(300_000, 5);

async function setup(opts: { tamper?: (blob: Uint8Array) => void; minRequestBytes?: number; failFirst?: number; decoders?: number } = {}) {
  const built = await buildEstargz(layerTar([{ name: "a", data: "alpha\n" }, { name: "b", data: "bravo\n" }, { name: "big", data: big }]), { chunkSize: 100_000 });
  const blob = built.blob!;
  const served = new Uint8Array(blob);
  opts.tamper?.(served);
  const requests: ByteRange[][] = [];
  let failures = opts.failFirst ?? 0;
  const client = {
    async fetchBlobRange(_repo: unknown, _digest: string, ranges: ByteRange[]) {
      requests.push(ranges);
      await Bun.sleep(5);
      if (failures-- > 0) throw new Error("connection refused");
      return ranges.map((r) => served.slice(r.offset, r.offset + r.length));
    },
  } as unknown as RegistryClient;
  const reader = await openEstargz(bytesSource(blob), { layerDigest: DIGEST });
  const table = buildChunkTable(reader.toc);
  const source = new BlobSource({ client, repo: { registry: "r", repository: "x" }, digest: DIGEST, size: blob.length, deadlineMs: 2000, minWaitMs: 10, maxWaitMs: 50 });
  const logs: string[] = [];
  const cache = new ChunkCache(tempDir("cache-"), (m) => logs.push(m));
  // Decoders on ports served by this same thread: the message path is what is under test here.
  const ports = Array.from({ length: opts.decoders ?? 0 }, () => {
    const ch = new MessageChannel();
    serveDecodes(ch.port1);
    return ch.port2;
  });
  const decoders = ports.length ? new DecodePool(ports) : undefined;
  const fetcher = new LayerFetcher({ layerDigest: DIGEST, reader, table, source, cache, maxConcurrency: 2, minRequestBytes: opts.minRequestBytes ?? 0, maxRequestBytes: 32 << 20, log: (m) => logs.push(m), decoders });
  const ids = (name: string) => table.byFile.get(name)!;
  return { blob, reader, table, fetcher, cache, requests, logs, ids };
}

describe("LayerFetcher", () => {
  test.each([0, 2])("callers waiting on the same chunk share one request (%d decoder threads)", async (decoders) => {
    const t = await setup({ decoders });
    const [c] = t.ids("big");
    await Promise.all([t.fetcher.ensure([c]), t.fetcher.ensure([c]), t.fetcher.ensure([c])]);
    expect(t.requests).toHaveLength(1);
    const path = t.cache.path(DIGEST, t.table.chunks[c]);
    expect(readFileSync(path).equals(Buffer.from(big.subarray(0, 100_000)))).toBe(true);
    await t.fetcher.ensure([c]);
    expect(t.requests).toHaveLength(1);
  });

  test("adjacent chunks go out as one range; a short request grows over its neighbours only when asked", async () => {
    const t = await setup();
    const ids = t.ids("big");
    await t.fetcher.ensure(ids);
    expect(t.requests).toHaveLength(1);
    expect(t.requests[0]).toHaveLength(1);
    const first = t.table.chunks[ids[0]];
    const last = t.table.chunks[ids.at(-1)!];
    expect(t.requests[0][0]).toEqual({ offset: first.offset, length: last.compressedEnd - first.offset });

    const g = await setup({ minRequestBytes: 50_000 });
    await g.fetcher.ensure(g.ids("a"));
    expect(g.requests).toHaveLength(1);
    expect(g.fetcher.isCached(g.ids("b")[0])).toBe(true); // came along in the same request
    expect(g.fetcher.isCached(g.ids("big")[0])).toBe(false); // would pass 50,000 bytes
  });

  test.each([0, 2])("a chunk that does not match its digest is refused, logged with layer and file, and not cached (%d decoder threads)", async (decoders) => {
    const t0 = await setup();
    const c = t0.table.chunks[t0.ids("big")[1]];
    const t = await setup({ decoders, tamper: (b) => (b[c.offset + 100] ^= 0x55) });
    const err = await t.fetcher.ensure([c.id]).then(() => undefined, (e: Error) => e);
    expect(err?.message).toContain(DIGEST);
    expect(err?.message).toContain('"big"');
    expect(t.logs.join("\n")).toContain('"big"');
    expect(existsSync(t.cache.path(DIGEST, c))).toBe(false);
    expect(t.fetcher.lastError).toBe(err!.message);
    // The file's other chunks are unaffected.
    await t.fetcher.ensure([t.ids("big")[0]]);
  });

  test("[slow] failed requests are retried with backoff until the deadline", async () => {
    const t = await setup({ failFirst: 2 });
    await t.fetcher.ensure(t.ids("a"));
    expect(t.requests).toHaveLength(3);
    const dead = await setup({ failFirst: 1000 });
    const started = Date.now();
    const err = await dead.fetcher.ensure(dead.ids("a")).then(() => undefined, (e: Error) => e);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(err?.message).toContain("connection refused");
    expect(err?.message).toContain(DIGEST);
  });
});
