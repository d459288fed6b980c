// Runs in the fetch thread: one RegistryClient and chunk cache for all lazy layers; per layer the
// TOC, a LayerFetcher, the channel FUSE workers ask on, prefetch, readahead and background fetch.
import { RegistryClient } from "../../core/registry/client.ts";
import type { Credential } from "../../core/registry/credentials.ts";
import type { RemoteLayer } from "../../core/snapshot/types.ts";
import { parseToc, readToc, type LandmarkInfo, type LocatedToc, type RandomAccessSource } from "./estargz/index.ts";
import { tocTailGuess, watchTocArrival } from "./toc-arrival.ts";
import { BlobSource } from "./blob-source.ts";
import { ChunkCache } from "./cache.ts";
import type { StargzConfig } from "./config.ts";
import { DecodePool } from "./decode-pool.ts";
import { LayerFetcher } from "./fetcher.ts";
import type { FetchThreadInit, FromFetchThread, LayerStatus, ToFetchThread } from "./fetch-messages.ts";
import { fileCachePath, fileChunkIds, type ChunkRef } from "./lazyfs/chunks.ts";
import type { ChannelMessage, FetchReply } from "./lazyfs/protocol.ts";
import { backgroundFetch, chunksBefore, DemandTracker, NeighbourFetch, PREFETCH_REQUEST_BYTES } from "./prefetch.ts";
import { TailSource, TocStore } from "./toc-store.ts";
import { firstEntryName, landmarkFirst, scanLandmark } from "./head-stream.ts";
import { parsedLayerOf, TableReader, tableFromParsed, TocParser, type ParsedLayer } from "./toc-parse.ts";
import type { WireToc } from "./toc-wire.ts";

/** TOC JSON from this size on is parsed in a parse thread (toc-parse.ts), smaller ones here. */
const PARSE_THREAD_TOC_BYTES = 2 << 20;
/** First bytes looked at for the blob's first entry (its gzip member holds the tar header). */
const HEAD_PEEK_BYTES = 4096;
/** Blobs from this size on get their parse thread started before the TOC is in. */
const EAGER_PARSE_THREAD_BLOB_BYTES = 64 << 20;
/** File data a sequential reader may have fetched ahead of it. */
const READAHEAD_MAX_BYTES = 64 << 20;
/** Compressed bytes per readahead request: decoding starts when a request completes. */
const READAHEAD_REQUEST_BYTES = 8 << 20;
/** Neighbour fetch after a lone miss (the window doubles while misses walk forward). */
const NEIGHBOUR_BASE_BYTES = 256 << 10;
/** Files bigger than this end a neighbourhood. */
const NEIGHBOUR_BIG_FILE_BYTES = 1 << 20;

interface ServedLayer {
  layer: RemoteLayer;
  /** Per file being read forward: the furthest chunk index touched and the readahead window. */
  sequential: Map<string, { index: number; window: number }>;
  /** Files whose whole-file copy (passthrough) is made or queued. */
  assembling: Set<string>;
  fetcher: LayerFetcher;
  source: BlobSource;
  /** Fetches the blob after a read miss (undefined: off, and so is the whole-file fetch). */
  neighbours: NeighbourFetch | undefined;
  /** Read misses so far per multi-chunk file (scattered reads get the whole file). */
  misses: Map<string, number>;
  channel: BroadcastChannel;
  network: { bytes: number };
  state: string;
  closed: boolean;
}

export class FetchService {
  private readonly client: RegistryClient;
  private readonly credentials = new Map<string, Credential>();
  private readonly cache: ChunkCache;
  private readonly tocs: TocStore;
  private readonly layers = new Map<string, ServedLayer>();
  private readonly config: StargzConfig;
  private readonly decoders: DecodePool;
  /** Prefetch and read misses of every layer: background fetch waits for quiet. */
  private readonly demand: DemandTracker;
  /** TOC fetches under way (layers being opened, e.g. an image's layers staged together):
   *  each settles when its TOC bytes are in (or its open ends). */
  private readonly openingTocs = new Set<Promise<unknown>>();
  /** Layers whose TOC bytes are in and whose head stream is not decided yet (see open()). */
  private readonly decidingHeads = new Set<Promise<void>>();

  constructor(
    init: FetchThreadInit,
    private readonly post: (m: FromFetchThread) => void,
  ) {
    this.config = init.config;
    const b = init.config.blob;
    this.client = new RegistryClient({
      registries: init.registries,
      credentials: [{ get: async (host) => this.credentials.get(host) }],
      retry: { attempts: b.max_retries + 1, baseDelayMs: b.min_wait_msec, maxDelayMs: b.max_wait_msec, deadlineMs: b.fetching_timeout_sec * 1000, headerTimeoutMs: b.fetching_timeout_sec * 1000, idleTimeoutMs: b.fetching_timeout_sec * 1000 },
    });
    this.cache = new ChunkCache(init.cacheDir, (message) => this.post({ t: "log", message }));
    this.tocs = new TocStore(init.tocDir);
    this.decoders = new DecodePool(init.decoders);
    this.demand = new DemandTracker(init.config.background_fetch.silence_msec);
  }

  handle(m: ToFetchThread): void {
    if (m.t === "open") {
      this.open(m).then(
        (toc) => this.post({ t: "opened", req: m.req, toc, memoryOnly: this.cache.memoryOnly }),
        (e: Error) => this.post({ t: "failed", req: m.req, message: e.message }),
      );
    } else if (m.t === "close") {
      const l = this.layers.get(m.key);
      if (l) {
        l.closed = true;
        l.source.close();
        l.channel.close();
        this.layers.delete(m.key);
      }
      this.post({ t: "closed", req: m.req });
    } else if (m.t === "shutdown") {
      this.post({ t: "closed", req: m.req }); // writes are synchronous: none is half done between messages
    }
  }

  private log(message: string): void {
    this.post({ t: "log", message });
  }

  /** A timestamped line (epoch ms) when EDGEBUILD_STARGZ_TRACE is set. */
  private trace(message: string): void {
    if (process.env.EDGEBUILD_STARGZ_TRACE) this.log(`trace ${(performance.timeOrigin + performance.now()).toFixed(0)} ${message}`);
  }

  /** Footer + verified TOC bytes, from the local copy when there is one, else by range requests. */
  private async openToc(layer: RemoteLayer, source: RandomAccessSource, expected: string | undefined): Promise<LocatedToc> {
    const digest = layer.descriptor.digest;
    const stored = this.tocs.load(digest);
    const tail = new TailSource(source, stored && stored.length <= source.size ? stored : undefined);
    const located = await readToc(tail, { layerDigest: digest, expectedTocDigest: expected, tailFetchSize: stored?.length ?? tocTailGuess(source.size) });
    if (!stored) {
      const bytes = tail.tailFrom(located.tocOffset);
      if (bytes) this.tocs.save(digest, bytes);
    }
    return located;
  }

  private async open(m: Extract<ToFetchThread, { t: "open" }>) {
    const { layer, key } = m;
    if (m.credential) this.credentials.set(layer.registry, m.credential);
    const network = { bytes: 0 };
    const c = this.config;
    const source = new BlobSource({
      client: this.client,
      repo: { registry: layer.registry, repository: layer.repository },
      digest: layer.descriptor.digest,
      size: layer.descriptor.size,
      deadlineMs: c.blob.fetching_timeout_sec * 1000,
      minWaitMs: c.blob.min_wait_msec,
      maxWaitMs: c.blob.max_wait_msec,
      trace: (line) => this.trace(line),
      onBytes: (n) => {
        network.bytes += n;
        // Bytes nobody waits for (neighbours, background) are reported too, at most every 200 ms.
        const l = this.layers.get(key);
        if (l) this.report(key, l, true);
      },
    });
    this.trace(`open ${layer.descriptor.digest}`);
    const digest = layer.descriptor.digest;
    // A big TOC is parsed in a thread of its own that ends with the parse (toc-parse.ts), started
    // while the TOC is fetched when the blob is big; a small one here (a thread's start-up costs
    // more than its parse, and heap-trim collects what little it leaves). No TOC objects stay.
    let parser = layer.descriptor.size >= EAGER_PARSE_THREAD_BLOB_BYTES ? new TocParser(digest) : undefined;
    const toc = watchTocArrival(source);
    const opening = this.openToc(layer, toc.source, m.expectedTocDigest);
    this.speculateHead(source, layer); // after the tail read: that one takes an idle connection first
    const inFlight = Promise.race([toc.arrived, opening]).catch(() => {});
    this.openingTocs.add(inFlight);
    void inFlight.finally(() => this.openingTocs.delete(inFlight));
    this.post({ t: "opening", key });
    // From its TOC's arrival until its head stream is asked for, this layer holds back other
    // layers' parses (below): each TOC's check and landmark lookup take a few ms, a big TOC's
    // parse tens, and the requests should all be out before the thread is taken for that long.
    let decided = false;
    const deciding = Promise.withResolvers<void>();
    void toc.arrived.then(() => {
      if (!decided) this.decidingHeads.add(deciding.promise);
    });
    const headDecided = () => {
      decided = true;
      this.decidingHeads.delete(deciding.promise);
      deciding.resolve();
    };
    let located: LocatedToc;
    let parsed: ParsedLayer;
    try {
      try {
        located = await opening;
        this.trace(`toc of ${layer.descriptor.digest} verified`);
        if (this.streamHead(source, located)) await new Promise((r) => setTimeout(r, 0)); // its request goes out before the parse
      } finally {
        headDecided();
      }
      while (this.decidingHeads.size > 0) await Promise.all(this.decidingHeads);
      if (located.json.length < PARSE_THREAD_TOC_BYTES) parser?.close();
      else parser ??= new TocParser(digest);
      parsed = located.json.length < PARSE_THREAD_TOC_BYTES ? parsedLayerOf(parseToc(located.json, { layerDigest: digest, payloadEnd: located.payloadEnd })) : await parser!.parse(located.payloadEnd, located.json);
    } catch (e) {
      // Not served: nothing of it stays on the wire.
      parser?.close();
      source.releaseHead();
      throw e;
    }
    this.trace(`index of ${digest} built`);
    const table = tableFromParsed(parsed);
    const reader = new TableReader(digest, located.format === "zstd-chunked" ? "zstd" : "gzip");
    const fetcher = new LayerFetcher({
      layerDigest: digest, reader, table, source, cache: this.cache,
      maxConcurrency: c.max_concurrency, minRequestBytes: c.blob.chunk_size, maxRequestBytes: 32 << 20,
      log: (msg) => this.log(msg),
      decoders: this.decoders,
      onCached: c.fuse.passthrough ? (chunk) => this.queueAssembly(served, chunk.file.name) : undefined,
    });
    const served: ServedLayer = { layer, sequential: new Map(), assembling: new Set(), fetcher, source, neighbours: undefined, misses: new Map(), channel: new BroadcastChannel(m.channel), network, state: "mounted", closed: false };
    const neighbourBytes = c.no_background_fetch ? 0 : c.blob.neighbor_fetch_size;
    if (neighbourBytes > 0) {
      served.neighbours = new NeighbourFetch(fetcher, {
        baseBytes: NEIGHBOUR_BASE_BYTES,
        maxBytes: neighbourBytes,
        bigFileBytes: NEIGHBOUR_BIG_FILE_BYTES,
        stopped: () => served.closed,
        onFetch: process.env.EDGEBUILD_STARGZ_TRACE ? (after, ids, window) => this.trace(`neighbours of ${after} (window ${window >> 10} KiB): ${ids.length} chunks`) : undefined,
      });
    }
    this.layers.set(key, served);
    if (c.fuse.passthrough) for (const [file, ids] of table.byFile) if (ids.length > 1) this.queueAssembly(served, file);
    source.cutHeads(this.prefetchEnd(parsed.landmark)); // its heads' bytes past the region (when the TOC's bytes did not say)
    const prefetch = this.startPrefetch(served, parsed.landmark);
    this.listen(key, served, prefetch);
    const afterPrefetch = async () => {
      await prefetch?.catch(() => {});
      source.releaseHead();
      if (served.closed) return;
      if (c.no_background_fetch || fetcher.complete) return this.setState(key, served, fetcher.complete ? "complete" : "mounted");
      await backgroundFetch(fetcher, {
        periodMs: c.background_fetch.fetch_period_msec,
        requestBytes: c.background_fetch.fetch_size,
        stopped: () => served.closed,
        onState: (s) => this.setState(key, served, s),
        demand: this.demand,
      });
    };
    void afterPrefetch();
    this.report(key, served);
    return { layerDigest: digest, index: parsed.index } satisfies WireToc;
  }

  /**
   * Asks for the layer's prefetch region now, before its TOC is parsed (head-stream.ts), when the
   * TOC's bytes name a landmark and nothing of the layer is cached yet (then the fetcher's own
   * prefetch skips what is, and a head stream would fetch it again). Like the prefetch, it waits
   * until no other layer's TOC is on its way. Returns whether it was started or scheduled.
   */
  private streamHead(source: BlobSource, located: LocatedToc): boolean {
    if (this.config.noprefetch) return false;
    const mark = scanLandmark(located.json);
    if (mark.kind === "unknown") return false; // the parse decides (cutHeads after it)
    const end = Math.min(located.payloadEnd, this.prefetchEnd({ kind: mark.kind, prefetchEnd: mark.kind === "prefetch" ? mark.offset : undefined }));
    const asked = source.headEnd;
    if (asked > 0) {
      // A speculative head is on its way: cut to the region, or continued up to its end (like a
      // head of its own, once no other TOC is on the link).
      source.cutHeads(end);
      if (end <= asked) return false;
      void this.afterOtherTocs(() => source.streamHead({ offset: asked, length: end - asked }));
      return true;
    }
    if (end <= 0 || this.cache.holdsAny(source.opts.digest)) return false;
    void this.afterOtherTocs(() => source.streamHead({ offset: 0, length: end }));
    return true;
  }

  /**
   * A cold layer's head is asked for with its tail, before the TOC is known (head-stream.ts):
   * between the manifest and the TOCs' arrival the link would carry little else. A gzip blob's
   * first entry tells within a round trip whether there is a prefetch region at all (an
   * unoptimized blob starts with its no-prefetch landmark): if not, the head is dropped then.
   * Only where the layer will be prefetched: gzip eStargz, nothing of it cached, prefetch on. A
   * speculative head competes with the TOCs for the link: it is kept short (speculative_head_size);
   * the rest of the region waits for the TOCs as a head of its own would.
   */
  private speculateHead(source: BlobSource, layer: RemoteLayer): void {
    const size = layer.descriptor.size;
    // Not into the tail read's bytes (a small blob is mostly TOC and little head).
    const bytes = Math.min(this.config.speculative_head_size, size - tocTailGuess(size));
    if (bytes <= 0 || this.config.noprefetch || !/gzip/.test(layer.descriptor.mediaType) || this.cache.holdsAny(layer.descriptor.digest)) return;
    source.streamHead({ offset: 0, length: bytes });
    void source.headBytes(HEAD_PEEK_BYTES).then((first) => {
      if (!first) return;
      const name = firstEntryName(first);
      this.trace(`first entry of ${layer.descriptor.digest}: ${JSON.stringify(name)}`);
      if (landmarkFirst(name)) source.cutHeads(0);
    });
  }

  /** End of the blob range a layer prefetches: up to its landmark, prefetch_size without one. */
  private prefetchEnd(mark: Pick<LandmarkInfo, "kind" | "prefetchEnd">): number {
    return (mark.kind === "prefetch" ? mark.prefetchEnd : mark.kind === "none" ? this.config.prefetch_size : 0) ?? 0;
  }

  /** Runs `go` once no TOC that is on its way now is still on the link (see openingTocs). */
  private afterOtherTocs<T>(go: () => T | Promise<T>): Promise<T> {
    const tocs = [...this.openingTocs];
    return tocs.length ? Promise.allSettled(tocs).then(go) : Promise.resolve(go());
  }

  /**
   * Passthrough needs one local file per file: a big file's chunks are copied into one once its
   * last chunk lands, or at mount when they all are cached already. Copies run one per timer tick
   * (synchronously, like every write here: see LayerFetcher.download), after the replies that the
   * landing chunk unblocks.
   */
  private queueAssembly(l: ServedLayer, file: string): void {
    const ids = l.fetcher.opts.table.byFile.get(file);
    if (!ids || ids.length < 2 || l.assembling.has(file) || !ids.every((id) => l.fetcher.isCached(id))) return;
    l.assembling.add(file);
    setTimeout(() => {
      if (l.closed) return;
      const chunks = ids.map((id) => l.fetcher.chunks[id]);
      const dest = fileCachePath(this.cache.dir, l.fetcher.opts.layerDigest, chunks[0]);
      if (Bun.file(dest).size !== chunks[0].file.size) this.cache.assemble(l.fetcher.opts.layerDigest, chunks, dest);
    }, 0);
  }

  private setState(key: string, l: ServedLayer, state: string): void {
    l.state = state;
    this.report(key, l);
  }

  private readonly lastReport = new Map<string, number>();
  private readonly trailing = new Set<string>();

  /** Status to the main thread: at most every 200 ms per layer (the last one always goes out),
   *  immediately for state changes and errors. */
  private report(key: string, l: ServedLayer, throttle = false): void {
    const now = Date.now();
    const wait = 200 - (now - (this.lastReport.get(key) ?? 0));
    if (throttle && wait > 0) {
      if (!this.trailing.has(key)) {
        this.trailing.add(key);
        setTimeout(() => {
          this.trailing.delete(key);
          this.report(key, l);
        }, wait);
      }
      return;
    }
    this.lastReport.set(key, now);
    const status: LayerStatus = {
      digest: l.layer.descriptor.digest,
      imageRef: l.layer.imageRef,
      size: l.layer.descriptor.size,
      fetched: l.network.bytes,
      state: l.closed ? "unmounted" : l.state,
      ...(l.fetcher.lastError ? { lastError: l.fetcher.lastError } : {}),
    };
    this.post({ t: "status", key, status });
  }

  /**
   * [0, landmark) (or prefetch_size bytes when there is no landmark), all asked for at once in
   * pieces of PREFETCH_REQUEST_BYTES, streamed: the first files (those the workload was recorded
   * opening first, e.g. the executor's /etc/passwd) are served as soon as their bytes are in.
   * The pieces go out once no other layer's TOC is still on its way: a layer's mount waits for
   * its TOC, so a TOC sharing the link with another layer's prefetch delays the whole image.
   */
  private startPrefetch(l: ServedLayer, mark: Pick<LandmarkInfo, "kind" | "prefetchEnd">): Promise<void> | undefined {
    if (this.config.noprefetch) return undefined;
    const ids = chunksBefore(l.fetcher.chunks, this.prefetchEnd(mark)).filter((id) => !l.fetcher.isCached(id));
    if (ids.length === 0) return undefined;
    l.state = "prefetching";
    // Not urgent: pieces go out in blob order (the order the workload was recorded reading in), and
    // reads of other chunks go ahead of the pieces still queued.
    return this.demand.during(this.afterOtherTocs(() => (l.closed ? undefined : l.fetcher.ensure(ids, { urgent: false, maxRequestBytes: PREFETCH_REQUEST_BYTES, exact: true }))));
  }

  /** Answers the FUSE workers' chunk requests for one layer. */
  private listen(key: string, l: ServedLayer, prefetch: Promise<void> | undefined): void {
    const { fetcher, channel } = l;
    const table = fetcher.opts.table;
    const waitCap = this.config.prefetch_timeout_sec * 1000;
    let prefetchDone = prefetch === undefined;
    prefetch?.finally(() => (prefetchDone = true)).catch(() => {});
    channel.onmessage = (e) => {
      const m = e.data as ChannelMessage;
      if (m.t !== "fetch") return;
      const ids = m.chunks.filter((id) => Number.isInteger(id) && id >= 0 && id < table.chunks.length);
      if (process.env.EDGEBUILD_STARGZ_TRACE) this.trace(`${m.hint ? "hint" : "miss"} ${ids.join(",")}${ids.length ? ` (${JSON.stringify(table.chunks[ids[0]].file.name)} chunk ${table.chunks[ids[0]].index}/${table.chunks[ids[0]].file.chunks.length})` : ""}`);
      if (m.hint) {
        this.readAhead(l, ids);
        return;
      }
      const asked = performance.now();
      const reply = (extra: Partial<FetchReply>) => {
        if (process.env.EDGEBUILD_STARGZ_TRACE) this.trace(`reply ${ids.join(",")} after ${(performance.now() - asked).toFixed(1)} ms (${fresh.length ? "fetched" : "joined"})`);
        if (!l.closed) channel.postMessage({ t: "done", w: m.w, id: m.id, ...extra } satisfies FetchReply);
        this.report(key, l, !extra.error);
      };
      // Only a miss that makes a request starts a neighbourhood: one on a chunk already on the way
      // is a reader catching up with an earlier fetch.
      const fresh = ids.filter((id) => !fetcher.isInflight(id) && !fetcher.isCached(id));
      this.scattered(l, fresh);
      this.demand
        .during(fetcher.ensure(ids, { urgent: true, waitCapMs: prefetchDone ? undefined : waitCap }))
        .then(() => {
          const inline: [number, Uint8Array][] = [];
          if (this.cache.memoryOnly) {
            for (const id of ids) {
              const mem = this.cache.memoryBytes(l.layer.descriptor.digest, table.chunks[id]);
              if (mem) inline.push([id, mem]);
            }
          }
          reply(inline.length ? { inline } : {});
          l.neighbours?.missed(fresh);
        })
        .catch((err: Error) => reply({ error: err.message }));
      this.readAhead(l, ids);
    };
  }

  /**
   * A big file read in scattered places (an executable's pages faulting in, an archive's index
   * then its members) gets the rest of it fetched at its second miss that does not continue the
   * previous chunk, as background work (a read joining one of its chunks moves that request up):
   * one round trip instead of one per chunk, decoded in parallel. Speculative traffic: only where
   * neighbour fetch is on; files up to READAHEAD_MAX_BYTES.
   */
  private scattered(l: ServedLayer, fresh: number[]): void {
    if (!l.neighbours || fresh.length === 0) return;
    const { fetcher } = l;
    const c = fetcher.chunks[fresh[0]];
    const all = fileChunkIds(c);
    if (all.length < 2 || c.file.size > READAHEAD_MAX_BYTES) return;
    const n = (l.misses.get(c.file.name) ?? 0) + 1;
    l.misses.set(c.file.name, n);
    const prev = fetcher.chunks[c.id - 1];
    const continues = c.index > 0 && prev?.file === c.file && (fetcher.isCached(prev.id) || fetcher.isInflight(prev.id));
    if (n < 2 || continues) return;
    const rest = all.filter((id) => !fresh.includes(id) && !fetcher.isInflight(id) && !fetcher.isCached(id));
    if (process.env.EDGEBUILD_STARGZ_TRACE) this.trace(`scattered reads of ${JSON.stringify(c.file.name)}: fetching its ${rest.length} other chunks`);
    if (rest.length) fetcher.ensure(rest, { urgent: false, exact: true, maxRequestBytes: READAHEAD_REQUEST_BYTES }).catch(() => {});
  }

  /**
   * A file read chunk after chunk gets its next chunks fetched ahead: `readahead_chunks` at first,
   * doubling while the reader keeps going forward (up to READAHEAD_MAX_BYTES of file data). The
   * window is refilled in batches, once less than half of it is cached or on the way: every range
   * request costs a round trip (tens of ms at some registries), so few big ones beat one per chunk.
   */
  private readAhead(l: ServedLayer, ids: number[]): void {
    const base = this.config.blob.readahead_chunks;
    if (base === 0 || ids.length === 0) return;
    const { fetcher } = l;
    const last = Math.max(...ids);
    const c = fetcher.chunks[last];
    const prev = fetcher.chunks[last - 1];
    if (!(c.index > 0 && prev?.file === c.file && (fetcher.isCached(prev.id) || fetcher.isInflight(prev.id)))) return;
    const st = l.sequential.get(c.file.name);
    let window = base;
    if (st && c.index > st.index && c.index <= st.index + st.window) window = Math.min(st.window * 2, 1 << 16);
    else if (st && c.index <= st.index) window = st.window; // another worker's touch of a chunk already seen
    l.sequential.set(c.file.name, { index: Math.max(c.index, st?.index ?? 0), window });
    const span: number[] = [];
    let bytes = 0;
    for (let id = last + 1; id <= last + window && id < fetcher.chunks.length; id++) {
      const next = fetcher.chunks[id];
      if (next.file !== c.file || (bytes += next.chunkSize) > READAHEAD_MAX_BYTES) break;
      span.push(id);
    }
    let covered = 0;
    while (covered < span.length && (fetcher.isInflight(span[covered]) || fetcher.isCached(span[covered]))) covered++;
    if (covered * 2 > span.length) return;
    const ahead = span.slice(covered).filter((id) => !fetcher.isInflight(id) && !fetcher.isCached(id));
    if (ahead.length) fetcher.ensure(ahead, { urgent: true, maxRequestBytes: READAHEAD_REQUEST_BYTES }).catch(() => {});
  }
}
