// The chunk fetcher without a registry: one request per chunk however many wait, adjacent chunks
// merged, every chunk verified before it is cached.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import type { ByteRange, RegistryClient } from "../../../core/registry/client.ts";
import { BlobSource } from "../../../plugins/snapshotter-stargz/blob-source.ts";
import { ChunkCache } from "../../../plugins/snapshotter-stargz/cache.ts";
import { buildEstargz, bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { LayerFetcher } from "../../../plugins/snapshotter-stargz/fetcher.ts";
import { DecodePool, serveDecodes, type DecodeJob } from "../../../plugins/snapshotter-stargz/decode-pool.ts";
import { buildChunkTable } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { layerTar, noise } from "./helpers.ts";

afterAll(removeTempDirs);

const DIGEST = `sha256:${"ab".repeat(32)}`;
const big = noise(300_000, 5);

interface SetupOptions {
  tamper?: (blob: Uint8Array) => void;
  minRequestBytes?: number;
  failFirst?: number;
  decoders?: number;
  holdFirst?: Promise<void>;
  holdCount?: number;
  /** Streamed bodies come in pieces of this many bytes (default: one piece). */
  pieceBytes?: number;
  /** Called before each streamed piece with the blob offset it starts at; may wait (a slow link). */
  beforePiece?: (offset: number) => Promise<void> | void;
  /** The first streamed body breaks after this many bytes. */
  breakAfter?: number;
}

async function setup(opts: SetupOptions = {}) {
  const built = await buildEstargz(layerTar([{ name: "a", data: "alpha\n" }, { name: "b", data: "bravo\n" }, { name: "big", data: big }, { name: "c", data: "charlie\n" }]), { chunkSize: 100_000 });
  const blob = built.blob!;
  const served = new Uint8Array(blob);
  opts.tamper?.(served);
  const requests: ByteRange[][] = [];
  let failures = opts.failFirst ?? 0;
  const client = {
    async fetchBlobRange(_repo: unknown, _digest: string, ranges: ByteRange[]) {
      requests.push(ranges);
      if (requests.length <= (opts.holdCount ?? 1) && opts.holdFirst) await opts.holdFirst;
      await Bun.sleep(5);
      if (failures-- > 0) throw new Error("connection refused");
      return ranges.map((r) => served.slice(r.offset, r.offset + r.length));
    },
    async streamBlobRange(_repo: unknown, _digest: string, r: ByteRange, onData: (b: Uint8Array) => void) {
      requests.push([r]);
      if (requests.length <= (opts.holdCount ?? 1) && opts.holdFirst) await opts.holdFirst;
      await Bun.sleep(5);
      if (failures-- > 0) throw new Error("connection refused");
      const step = opts.pieceBytes ?? r.length;
      let breakAt = streamed++ === 0 ? opts.breakAfter : undefined;
      for (let at = r.offset; at < r.offset + r.length; at += step) {
        await opts.beforePiece?.(at);
        const piece = served.slice(at, Math.min(at + step, r.offset + r.length));
        if (breakAt !== undefined && at - r.offset + piece.length > breakAt) {
          onData(piece.subarray(0, breakAt - (at - r.offset)));
          throw new Error("connection reset mid-body");
        }
        onData(piece);
      }
    },
  } as unknown as RegistryClient;
  let streamed = 0;
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
    await g.fetcher.ensure(g.ids("b")); // came along in the same request (decoded after "a")
    expect(g.requests).toHaveLength(1);
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

  test("a read is answered once its own chunk is cached: the neighbours its request grew over are decoded after", async () => {
    const t = await setup({ minRequestBytes: 50_000, decoders: 2 });
    const [a] = t.ids("a");
    const [b] = t.ids("b");
    await t.fetcher.ensure([a]);
    expect(t.fetcher.isCached(a)).toBe(true);
    expect(t.fetcher.isCached(b)).toBe(false); // fetched in the same request, decoded next
    expect(t.fetcher.isInflight(b)).toBe(true);
    await t.fetcher.ensure([b]);
    expect(t.requests).toHaveLength(1);
  });

  test("a read does not wait behind background requests holding every network slot", async () => {
    let release!: () => void;
    const t = await setup({ holdFirst: new Promise<void>((r) => (release = r)), holdCount: 2 });
    const [a] = t.ids("a");
    const [b] = t.ids("b");
    const [c] = t.ids("c");
    const background = [t.fetcher.ensure([a], { urgent: false, exact: true }), t.fetcher.ensure([b], { urgent: false, exact: true })];
    await Bun.sleep(30);
    expect(t.requests).toHaveLength(2); // both slots (maxConcurrency 2) held
    await t.fetcher.ensure([c], { exact: true }); // a read: one slot over the limit, at once
    expect(t.requests).toHaveLength(3);
    expect(t.fetcher.isCached(a) || t.fetcher.isCached(b)).toBe(false);
    release();
    await Promise.all(background);
  });

  test("speculative fetches leave the last network slot to reads; a read of a chunk one waits to fetch moves it up, still one request", async () => {
    let release!: () => void;
    const t = await setup({ holdFirst: new Promise<void>((r) => (release = r)) });
    const [b0] = t.ids("big");
    const [c] = t.ids("c");
    const first = t.fetcher.ensure([b0], { urgent: false, exact: true }); // holds one of the two slots
    const guess = t.fetcher.ensure([c], { urgent: false, speculative: true, exact: true });
    await Bun.sleep(30);
    expect(t.requests).toHaveLength(1); // the speculative one waits: one slot stays free for reads
    expect(t.fetcher.isInflight(c)).toBe(true);
    await t.fetcher.ensure([c]); // a read joins it: it goes out in the free slot now
    expect(t.requests).toHaveLength(2);
    expect(t.fetcher.isCached(b0)).toBe(false); // the first request is still held
    release();
    await Promise.all([first, guess]);
    expect(t.requests).toHaveLength(2);
  });

  test("following(): the uncached, unclaimed chunks within a byte budget after a chunk, up to a big file", async () => {
    const t = await setup();
    const [a] = t.ids("a");
    const [b] = t.ids("b");
    const bigIds = t.ids("big");
    const [c] = t.ids("c");
    expect(t.fetcher.following(a, 1 << 20, 1 << 20)).toEqual([b, ...bigIds, c]);
    expect(t.fetcher.following(a, 1 << 20, 100_000)).toEqual([b]); // stops at the 300 kB file
    expect(t.fetcher.following(a, t.table.chunks[b].compressedEnd - t.table.chunks[a].compressedEnd, 1 << 20)).toEqual([b]);
    expect(t.fetcher.following(a, 0, 1 << 20)).toEqual([]);
    await t.fetcher.ensure([b]);
    expect(t.fetcher.following(a, 1 << 20, 1 << 20)).toEqual([...bigIds, c]);
  });

  test.each([0, 2])("a streamed run: its first chunk is cached while the rest is still on the way (%d decoder threads)", async (decoders) => {
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    let bigAt = Infinity;
    const t = await setup({ decoders, minRequestBytes: 1 << 20, pieceBytes: 4096, beforePiece: (at) => (at >= bigAt ? slow : undefined) });
    bigAt = t.table.chunks[t.ids("big")[1]].offset; // the link stalls from big's second chunk on
    const [a] = t.ids("a");
    const all = t.fetcher.ensure([a]); // grows over b, big and c: one request
    const first = await Promise.race([all.then(() => "done"), Bun.sleep(2000).then(() => "timeout")]);
    expect(first).toBe("done");
    // b and big's first chunk came before the stall too: they get cached meanwhile.
    const before = await Promise.race([t.fetcher.ensure([...t.ids("b"), t.ids("big")[0]]).then(() => "done"), Bun.sleep(2000).then(() => "timeout")]);
    expect(before).toBe("done");
    expect(t.fetcher.isCached(t.ids("big")[1])).toBe(false);
    release();
    await t.fetcher.ensure([...t.ids("big"), ...t.ids("c")]);
    expect(t.requests).toHaveLength(1);
    expect(readFileSync(t.cache.path(DIGEST, t.table.chunks[t.ids("big")[2]])).equals(Buffer.from(big.subarray(200_000)))).toBe(true);
  });

  test("a body that breaks mid-way is asked for again from the first byte not delivered; every chunk cached right", async () => {
    const t = await setup({ breakAfter: 150_000, pieceBytes: 8192 });
    const ids = t.ids("big");
    await t.fetcher.ensure(ids);
    expect(t.requests).toHaveLength(2);
    const first = t.requests[0][0];
    expect(t.requests[1][0]).toEqual({ offset: first.offset + 150_000, length: first.length - 150_000 });
    for (const [i, id] of ids.entries()) {
      const want = big.subarray(i * 100_000, (i + 1) * 100_000);
      expect(readFileSync(t.cache.path(DIGEST, t.table.chunks[id])).equals(Buffer.from(want))).toBe(true);
    }
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

describe("DecodePool", () => {
  test("at most two jobs per decoder; a read's job, then a background job a read came to wait for, go ahead of queued background work", async () => {
    const ch = new MessageChannel();
    const held: DecodeJob[] = [];
    ch.port1.onmessage = (e) => held.push(e.data as DecodeJob);
    const pool = new DecodePool([ch.port2]);
    const job = (n: number) => ({ kind: "gzip" as const, compressed: new Uint8Array(1), innerOffset: 0, chunkSize: n, want: undefined });
    let awaited = false;
    const all = [pool.decode(job(1), false), pool.decode(job(2), false), pool.decode(job(3), false), pool.decode(job(4), () => awaited), pool.decode(job(5), true)];
    const answered = new Set<number>();
    const answer = async () => {
      const next = held.find((j) => !answered.has(j.id))!;
      answered.add(next.id);
      ch.port1.postMessage({ id: next.id, error: "x" });
      await Bun.sleep(10);
    };
    await Bun.sleep(10);
    expect(held.map((j) => j.chunkSize)).toEqual([1, 2]);
    expect(pool.queued).toBe(3);
    await answer();
    expect(held.map((j) => j.chunkSize)).toEqual([1, 2, 5]); // the read's job first
    awaited = true;
    await answer();
    expect(held.map((j) => j.chunkSize)).toEqual([1, 2, 5, 4]); // then the one a read waits for
    for (let i = 0; i < 3; i++) await answer();
    expect(held.map((j) => j.chunkSize)).toEqual([1, 2, 5, 4, 3]);
    expect((await Promise.all(all)).every((r) => "error" in r)).toBe(true);
  });
});
