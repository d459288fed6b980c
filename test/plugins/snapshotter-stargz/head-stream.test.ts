// The head stream (a layer's prefetch region asked for before its TOC is parsed): the landmark
// found in the TOC's bytes, bytes handed out once in order, and BlobSource serving stream() calls
// from it without requests of their own (small in-process registry stand-in).
import { afterEach, describe, expect, test } from "bun:test";
import { RegistryClient } from "../../../core/registry/client.ts";
import { staticCredentials } from "../../../core/registry/credentials.ts";
import { BlobSource } from "../../../plugins/snapshotter-stargz/blob-source.ts";
import { buildEstargz, readToc, bytesSource, landmarkOf, parseToc } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { firstEntryName, HeadStream, landmarkFirst, scanLandmark } from "../../../plugins/snapshotter-stargz/head-stream.ts";
import { layerTar } from "./helpers.ts";

const enc = new TextEncoder();

describe("scanLandmark", () => {
  test("finds the offset the parsed TOC gives, for a blob with prioritized files", async () => {
    const tar = layerTar([
      { name: "etc/", type: "dir" },
      { name: "etc/a", data: "first" },
      { name: "etc/b", data: "second".repeat(1000) },
      { name: "etc/c", data: "third" },
    ]);
    const built = await buildEstargz(tar, { prioritizedFiles: ["etc/b"] });
    const located = await readToc(bytesSource(built.blob!), { layerDigest: "sha256:x" });
    const parsed = landmarkOf(parseToc(located.json, { layerDigest: "sha256:x", payloadEnd: located.payloadEnd }));
    expect(parsed.kind).toBe("prefetch");
    expect(scanLandmark(located.json)).toEqual({ kind: "prefetch", offset: parsed.prefetchEnd! });
  });

  test("no prioritized files: no-prefetch; no landmark at all: none", async () => {
    const tar = layerTar([{ name: "a", data: "x" }]);
    const none = await readToc(bytesSource((await buildEstargz(tar)).blob!), { layerDigest: "sha256:x" });
    expect(scanLandmark(none.json)).toEqual({ kind: "no-prefetch" });
    expect(scanLandmark(enc.encode('{"version":1,"entries":[{"name":"a","type":"reg","offset":0}]}'))).toEqual({ kind: "none" });
  });

  test("the name somewhere else than an entry's name, or an entry that does not hold up, is unknown", () => {
    const link = '{"version":1,"entries":[{"name":"l","type":"symlink","linkName":".prefetch.landmark"}]}';
    expect(scanLandmark(enc.encode(link))).toEqual({ kind: "unknown" });
    const noOffset = '{"version":1,"entries":[{"name":".prefetch.landmark","type":"reg","size":1}]}';
    expect(scanLandmark(enc.encode(noOffset))).toEqual({ kind: "unknown" });
    const xattrs = '{"version":1,"entries":[{"name":".prefetch.landmark","type":"reg","xattrs":{"a":"b"},"offset":5}]}';
    expect(scanLandmark(enc.encode(xattrs))).toEqual({ kind: "unknown" });
    const negative = '{"version":1,"entries":[{"name":".prefetch.landmark","type":"reg","offset":-5}]}';
    expect(scanLandmark(enc.encode(negative))).toEqual({ kind: "unknown" });
  });
});

describe("firstEntryName", () => {
  const tar = () =>
    layerTar([
      { name: "etc/", type: "dir" },
      { name: "etc/a", data: "first".repeat(3000) },
      { name: "etc/b", data: "second".repeat(1000) },
    ]);

  test("an unoptimized blob starts with its no-prefetch landmark, an optimized one with its first prioritized file", async () => {
    const plain = (await buildEstargz(tar())).blob!;
    const optimized = (await buildEstargz(tar(), { prioritizedFiles: ["etc/b"] })).blob!;
    // A few hundred bytes are the first gzip member and the start of the next: enough.
    expect(firstEntryName(plain.subarray(0, 300))).toBe(".no.prefetch.landmark");
    expect(landmarkFirst(firstEntryName(plain.subarray(0, 4096)))).toBe(true);
    expect(firstEntryName(optimized.subarray(0, 4096))).toStartWith("etc/");
    expect(landmarkFirst(firstEntryName(optimized.subarray(0, 4096)))).toBe(false);
    // The optimized blob's landmark comes after its prioritized files, not first.
    const located = await readToc(bytesSource(optimized), { layerDigest: "sha256:x" });
    expect(scanLandmark(located.json)).toMatchObject({ kind: "prefetch" });
  });

  test("too few bytes, or no gzip, say nothing", async () => {
    const plain = (await buildEstargz(tar())).blob!;
    expect(firstEntryName(plain.subarray(0, 12))).toBeUndefined();
    expect(firstEntryName(enc.encode("not a gzip stream at all, just text"))).toBeUndefined();
    expect(landmarkFirst(undefined)).toBe(false);
  });
});

describe("HeadStream", () => {
  const bytes = (from: number, n: number) => new Uint8Array(n).map((_, i) => (from + i) & 0xff);

  test("hands a range out as it arrives, in order, and drops what it handed out", async () => {
    const h = new HeadStream(100, 300);
    const got: Uint8Array[] = [];
    const taking = h.take(150, 350, (b) => got.push(b.slice()));
    h.push(bytes(100, 120));
    await Bun.sleep(1);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(150, 70)));
    h.push(bytes(220, 180));
    expect(await taking).toBe(350);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(150, 200)));
    // [100, 150) and [350, 400) were not asked for: still held (with the buffers they came in).
    expect(h.heldBytes).toBe(100);
    const whole = new HeadStream(0, 100);
    whole.push(bytes(0, 100));
    expect(await whole.take(0, 100, () => {})).toBe(100);
    expect(whole.heldBytes).toBe(0);
    // Handed out and dropped: a second taker of the same bytes is sent elsewhere at once.
    expect(await whole.take(0, 100, () => {})).toBe(0);
    h.release();
    expect(h.heldBytes).toBe(0);
  });

  test("cut: bytes past the new end are dropped, held or to come; takers stop there", async () => {
    const h = new HeadStream(0, 1000);
    h.push(bytes(0, 300));
    h.cut(200);
    expect(h.end).toBe(200);
    expect(h.heldBytes).toBe(200);
    expect(h.reached).toBe(200);
    const got: Uint8Array[] = [];
    expect(await h.take(0, 500, (b) => got.push(b.slice()))).toBe(200);
    expect(Buffer.concat(got)).toEqual(Buffer.from(bytes(0, 200)));
    h.push(bytes(300, 100)); // the request still delivering: ignored
    expect(h.heldBytes).toBe(0);
    // Cut before the bytes arrive: a piece crossing the end is trimmed, the stream is over.
    const later = new HeadStream(0, 1000);
    const waiting = later.take(0, 1000, () => {});
    later.cut(150);
    later.push(bytes(0, 400));
    expect(await waiting).toBe(150);
    expect(later.reached).toBe(150);
  });

  test("first(n) waits for the first bytes and gives them without handing them out", async () => {
    const h = new HeadStream(0, 1000);
    const first = h.first(100);
    h.push(bytes(0, 60));
    h.push(bytes(60, 60));
    expect(await first).toEqual(bytes(0, 100));
    expect(h.heldBytes).toBe(120);
    const short = new HeadStream(0, 1000);
    const p = short.first(100);
    short.push(bytes(0, 30));
    short.finish();
    expect(await p).toEqual(bytes(0, 30));
  });

  test("a stream that ends early, or is released, ends a waiting taker where the bytes stopped", async () => {
    const h = new HeadStream(0, 100);
    const taking = h.take(0, 100, () => {});
    h.push(bytes(0, 40));
    h.finish();
    expect(await taking).toBe(40);
    const r = new HeadStream(0, 100);
    const waiting = r.take(10, 50, () => {});
    r.release();
    expect(await waiting).toBe(10);
  });
});

describe("BlobSource head stream", () => {
  const servers: { stop(force?: boolean): void }[] = [];
  afterEach(() => {
    for (const s of servers.splice(0)) s.stop(true);
  });
  const BLOB = new Uint8Array(200_000).map((_, i) => (i * 7) & 0xff);
  const DIGEST = `sha256:${"cd".repeat(32)}`;

  /** A registry stand-in answering Range GETs; `cut` ends a body after that many bytes once. */
  function registry(opts: { cutAfter?: number } = {}) {
    const ranges: string[] = [];
    let cut = opts.cutAfter;
    const s = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const m = /bytes=(\d+)-(\d+)/.exec(req.headers.get("range") ?? "")!;
        ranges.push(`${m[1]}-${m[2]}`);
        const [a, b] = [Number(m[1]), Number(m[2]) + 1];
        const body = BLOB.subarray(a, b);
        const headers = { "content-range": `bytes ${a}-${b - 1}/${BLOB.length}`, "content-type": "application/octet-stream" };
        if (cut !== undefined) {
          const n = cut;
          cut = undefined;
          // A body that breaks after n bytes (the length promised is not delivered).
          const stream = new ReadableStream({
            async start(c) {
              c.enqueue(body.subarray(0, n));
              await Bun.sleep(50);
              c.error(new Error("cut"));
            },
          });
          return new Response(stream, { status: 206, headers });
        }
        return new Response(body, { status: 206, headers });
      },
    });
    servers.push(s);
    return { host: `127.0.0.1:${s.port}`, ranges };
  }

  function source(host: string, counted: { bytes: number }): BlobSource {
    const client = new RegistryClient({ credentials: [staticCredentials({})], retry: { attempts: 3, baseDelayMs: 10, maxDelayMs: 100 } });
    return new BlobSource({ client, repo: { registry: host, repository: "team/app" }, digest: DIGEST, size: BLOB.length, deadlineMs: 10_000, minWaitMs: 10, maxWaitMs: 100, onBytes: (n) => (counted.bytes += n) });
  }

  async function streamed(src: BlobSource, offset: number, length: number): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    await src.stream({ offset, length }, (b) => parts.push(b.slice()));
    return new Uint8Array(Buffer.concat(parts));
  }

  test("ranges inside the head come from its one request; bytes are counted once", async () => {
    const r = registry();
    const counted = { bytes: 0 };
    const src = source(r.host, counted);
    src.streamHead({ offset: 0, length: 120_000 });
    const [a, b] = await Promise.all([streamed(src, 100, 50_000), streamed(src, 50_100, 69_900)]);
    expect(a).toEqual(BLOB.subarray(100, 50_100));
    expect(b).toEqual(BLOB.subarray(50_100, 120_000));
    expect(r.ranges).toEqual(["0-119999"]);
    expect(counted.bytes).toBe(120_000);
    src.releaseHead();
  });

  test("a range running past the head gets the rest in a request of its own", async () => {
    const r = registry();
    const src = source(r.host, { bytes: 0 });
    src.streamHead({ offset: 0, length: 1000 });
    expect(await streamed(src, 500, 2000)).toEqual(BLOB.subarray(500, 2500));
    expect(r.ranges).toEqual(["0-999", "1000-2499"]);
  });

  test("a head stream whose body breaks resumes where it stopped; its takers get every byte once", async () => {
    const r = registry({ cutAfter: 30_000 });
    const src = source(r.host, { bytes: 0 });
    src.streamHead({ offset: 0, length: 100_000 });
    expect(await streamed(src, 0, 100_000)).toEqual(BLOB.subarray(0, 100_000));
    expect(r.ranges[0]).toBe("0-99999");
    expect(r.ranges.length).toBe(2);
    expect(Number(r.ranges[1].split("-")[0])).toBeGreaterThan(0);
  });

  /** A registry stand-in that sends each range slowly, `piece` bytes every `delayMs`, and notes
   *  the ranges asked for, the bytes sent and whether a body was cancelled by the client. */
  function drippingRegistry(piece: number, delayMs: number) {
    const seen = { ranges: [] as string[], sent: 0, cancelled: false };
    const s = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        const [a, b] = /bytes=(\d+)-(\d+)/.exec(req.headers.get("range") ?? "")!.slice(1).map(Number);
        seen.ranges.push(`${a}-${b}`);
        let at = a;
        const body = new ReadableStream({
          async pull(c) {
            await Bun.sleep(delayMs);
            if (at > b) return c.close();
            const n = Math.min(piece, b + 1 - at);
            c.enqueue(BLOB.subarray(at, at + n));
            at += n;
            seen.sent += n;
          },
          cancel() {
            seen.cancelled = true;
          },
        });
        return new Response(body, { status: 206, headers: { "content-range": `bytes ${a}-${b}/${BLOB.length}`, "content-length": String(b + 1 - a) } });
      },
    });
    servers.push(s);
    return { host: `127.0.0.1:${s.port}`, seen };
  }

  test("releaseHead while the head is on the wire stops its download (the registry sees the body cancelled)", async () => {
    const r = drippingRegistry(1000, 20);
    const src = source(r.host, { bytes: 0 });
    src.streamHead({ offset: 0, length: 150_000 });
    for (let i = 0; i < 100 && r.seen.sent < 3000; i++) await Bun.sleep(10);
    expect(r.seen.sent).toBeGreaterThanOrEqual(3000);
    src.releaseHead();
    for (let i = 0; i < 100 && !r.seen.cancelled; i++) await Bun.sleep(10);
    expect(r.seen.cancelled).toBe(true);
    const at = r.seen.sent;
    await Bun.sleep(150);
    expect(r.seen.sent - at).toBeLessThanOrEqual(2000);
    expect(r.seen.sent).toBeLessThan(150_000);
  });

  test("a speculative head cut at the landmark stops its request once those bytes are in; a continuation serves the rest", async () => {
    const r = drippingRegistry(2000, 5);
    const src = source(r.host, { bytes: 0 });
    // Asked for before the TOC: 100 kB. The TOC then says the region ends at 30 kB.
    src.streamHead({ offset: 0, length: 100_000 });
    expect(src.headEnd).toBe(100_000);
    expect(await src.headBytes(10)).toEqual(BLOB.subarray(0, 10));
    src.cutHeads(30_000);
    expect(src.headEnd).toBe(30_000);
    expect(await streamed(src, 0, 30_000)).toEqual(BLOB.subarray(0, 30_000));
    for (let i = 0; i < 100 && !r.seen.cancelled; i++) await Bun.sleep(10);
    expect(r.seen.cancelled).toBe(true);
    expect(r.seen.sent).toBeLessThan(60_000);
    // Another layer's TOC says 150 kB: the head is continued by one request for the rest.
    const other = source(r.host, { bytes: 0 });
    other.streamHead({ offset: 0, length: 20_000 });
    other.streamHead({ offset: 20_000, length: 130_000 });
    expect(other.headEnd).toBe(150_000);
    expect(await streamed(other, 5_000, 140_000)).toEqual(BLOB.subarray(5_000, 145_000));
    expect(r.seen.ranges.slice(1)).toEqual(["0-19999", "20000-149999"]);
    other.releaseHead();
    // Cut to nothing (the blob's first entry is its no-prefetch landmark): ranges go to the network.
    const none = source(r.host, { bytes: 0 });
    none.streamHead({ offset: 0, length: 100_000 });
    none.cutHeads(0);
    expect(none.headEnd).toBe(0);
    expect(await streamed(none, 0, 1000)).toEqual(BLOB.subarray(0, 1000));
    expect(r.seen.ranges.slice(3)).toEqual(["0-99999", "0-999"]);
  });

  test("close() stops a range on the wire and any retry: the layer is gone", async () => {
    const r = drippingRegistry(1000, 20);
    const src = source(r.host, { bytes: 0 });
    const reading = src.stream({ offset: 0, length: 150_000 }, () => {}).then(() => "done", (e: Error) => e.message);
    for (let i = 0; i < 100 && r.seen.sent < 3000; i++) await Bun.sleep(10);
    src.close();
    expect(await reading).toContain("no longer wanted");
    const at = r.seen.sent;
    await Bun.sleep(200);
    expect(r.seen.sent - at).toBeLessThanOrEqual(2000);
    expect(r.seen.ranges.length).toBe(1);
    expect(await src.stream({ offset: 0, length: 10 }, () => {}).then(() => "done", (e: Error) => e.message)).toContain(DIGEST);
    expect(r.seen.ranges.length).toBe(1);
  });

  test("after releaseHead, ranges go to the network", async () => {
    const r = registry();
    const src = source(r.host, { bytes: 0 });
    src.streamHead({ offset: 0, length: 1000 });
    expect(await streamed(src, 0, 1000)).toEqual(BLOB.subarray(0, 1000));
    src.releaseHead();
    expect(await streamed(src, 0, 1000)).toEqual(BLOB.subarray(0, 1000));
    expect(r.ranges).toEqual(["0-999", "0-999"]);
  });
});
