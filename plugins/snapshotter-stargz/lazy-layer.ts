// One registry layer mounted lazily: open its TOC (verified against toc.digest), mount lazyfs at
// the snapshot's dir, answer the FUSE workers' chunk requests, prefetch and background-fetch.
import { randomBytes } from "node:crypto";
import type { RegistryClient } from "../../core/registry/client.ts";
import type { RemoteLayer } from "../../core/snapshot/types.ts";
import { EstargzError, openEstargz, type EstargzReader } from "./estargz/index.ts";
import { mountFuse } from "./fuse/mount.ts";
import type { FuseMount } from "./fuse/types.ts";
import { BlobSource } from "./blob-source.ts";
import type { ChunkCache } from "./cache.ts";
import type { StargzConfig } from "./config.ts";
import { LayerFetcher } from "./fetcher.ts";
import { buildChunkTable } from "./lazyfs/chunks.ts";
import type { ChannelMessage, FetchReply, LazyFsInit } from "./lazyfs/protocol.ts";
import { backgroundFetch, chunksBefore } from "./prefetch.ts";
import { TailSource, type TocStore } from "./toc-store.ts";

/** Repo-relative: the compiled binary carries this file as an extra entrypoint. */
export const LAZYFS_MODULE = "plugins/snapshotter-stargz/lazyfs/fs.ts";

export interface LayerStatus {
  digest: string;
  imageRef: string;
  size: number;
  fetched: number;
  state: string;
  lastError?: string;
}

export interface OpenLayerParams {
  layer: RemoteLayer;
  client: RegistryClient;
  config: StargzConfig;
  tocs: TocStore;
  /** The digest the TOC must have (undefined: not checked). */
  expectedTocDigest: string | undefined;
}

export function blobSourceFor(layer: RemoteLayer, client: RegistryClient, config: StargzConfig, onBytes?: (n: number) => void): BlobSource {
  return new BlobSource({
    client,
    repo: { registry: layer.registry, repository: layer.repository },
    digest: layer.descriptor.digest,
    size: layer.descriptor.size,
    deadlineMs: config.blob.fetching_timeout_sec * 1000,
    minWaitMs: config.blob.min_wait_msec,
    maxWaitMs: config.blob.max_wait_msec,
    onBytes,
  });
}

/** Footer + TOC, from the local copy when there is one, else by range requests. Throws EstargzError. */
export async function openLayerToc(p: OpenLayerParams, source: BlobSource): Promise<EstargzReader> {
  const digest = p.layer.descriptor.digest;
  const stored = p.tocs.load(digest);
  const tail = new TailSource(source, stored && stored.length <= source.size ? stored : undefined);
  const reader = await openEstargz(tail, { layerDigest: digest, expectedTocDigest: p.expectedTocDigest, tailFetchSize: stored?.length });
  if (!stored) {
    const bytes = tail.tailFrom(reader.tocOffset);
    if (bytes) p.tocs.save(digest, bytes);
  }
  return reader;
}

export interface MountLayerParams extends OpenLayerParams {
  mountpoint: string;
  cache: ChunkCache;
  log: (m: string) => void;
  onAccess: (path: string) => void;
}

export class LazyLayer {
  state = "mounting";
  private closed = false;
  private background: Promise<void> | undefined;

  private constructor(
    readonly layer: RemoteLayer,
    readonly reader: EstargzReader,
    readonly fetcher: LayerFetcher,
    private readonly channel: BroadcastChannel,
    private mount: FuseMount | undefined,
    private readonly network: { bytes: number },
  ) {}

  /** Bytes that came from the registry for this layer (TOC included). */
  get fetched(): number {
    return this.network.bytes;
  }

  get digest(): string {
    return this.layer.descriptor.digest;
  }

  get mountpoint(): string | undefined {
    return this.mount?.mountpoint;
  }

  static async mount(p: MountLayerParams): Promise<LazyLayer> {
    const network = { bytes: 0 };
    const source = blobSourceFor(p.layer, p.client, p.config, (n) => (network.bytes += n));
    const reader = await openLayerToc(p, source);
    const digest = p.layer.descriptor.digest;
    const table = buildChunkTable(reader.toc);
    const fetcher = new LayerFetcher({
      layerDigest: digest,
      reader,
      table,
      source,
      cache: p.cache,
      maxConcurrency: p.config.max_concurrency,
      minRequestBytes: p.config.blob.chunk_size,
      maxRequestBytes: 32 << 20,
      log: p.log,
    });
    const channelName = `edgebuild-lazyfs-${digest.slice(7, 23)}-${randomBytes(6).toString("hex")}`;
    const channel = new BroadcastChannel(channelName);
    const layer = new LazyLayer(p.layer, reader, fetcher, channel, undefined, network);

    const prefetch = layer.startPrefetch(p.config);
    const waitCap = p.config.prefetch_timeout_sec * 1000;
    const readahead = p.config.blob.readahead_chunks;
    channel.onmessage = (e) => {
      const m = e.data as ChannelMessage;
      if (m.t !== "fetch") return;
      const ids = m.chunks.filter((id) => Number.isInteger(id) && id >= 0 && id < table.chunks.length);
      const reply = (extra: Partial<FetchReply>) => channel.postMessage({ t: "done", w: m.w, id: m.id, ...extra } satisfies FetchReply);
      fetcher
        .ensure(ids, { urgent: true, waitCapMs: prefetch ? waitCap : undefined })
        .then(() => {
          const inline: [number, Uint8Array][] = [];
          for (const id of ids) {
            const mem = p.cache.memoryOnly ? p.cache.memoryBytes(digest, table.chunks[id]) : undefined;
            if (mem) inline.push([id, mem]);
          }
          reply(inline.length ? { inline } : {});
        })
        .catch((err: Error) => reply({ error: err.message }));
      layer.readAhead(ids, readahead);
    };

    try {
      const init: LazyFsInit = {
        layerDigest: digest,
        toc: reader.toc,
        channel: channelName,
        cacheDir: p.cache.dir,
        passthrough: p.config.fuse.passthrough,
        memoryCacheBytes: p.config.fuse.memory_cache_mb << 20,
        overlayXattrPrefix: p.config.overlay_xattr_prefix,
      };
      layer.mount = await mountFuse({
        mountpoint: p.mountpoint,
        fsModule: LAZYFS_MODULE,
        fsInit: init,
        workers: p.config.fuse.workers,
        options: { passthrough: p.config.fuse.passthrough, attrTimeoutSec: p.config.fuse.attr_timeout, entryTimeoutSec: p.config.fuse.attr_timeout, fsName: "edgebuild-stargz" },
        onAccess: (r) => r.path !== undefined && p.onAccess(r.path),
        onError: (msg) => p.log(`stargz: layer ${digest}: ${msg}`),
      });
    } catch (e) {
      layer.closed = true;
      channel.close();
      throw e;
    }
    layer.state = "mounted";
    prefetch
      ?.catch(() => {})
      .then(() => {
        if (layer.closed) return;
        if (p.config.no_background_fetch || fetcher.complete) {
          layer.state = fetcher.complete ? "complete" : "mounted";
          return;
        }
        layer.background = backgroundFetch(fetcher, {
          periodMs: p.config.background_fetch.fetch_period_msec,
          requestBytes: p.config.background_fetch.fetch_size,
          stopped: () => layer.closed,
          onState: (s) => (layer.state = s),
        });
      });
    if (!prefetch && !p.config.no_background_fetch && !fetcher.complete) {
      layer.background = backgroundFetch(fetcher, {
        periodMs: p.config.background_fetch.fetch_period_msec,
        requestBytes: p.config.background_fetch.fetch_size,
        stopped: () => layer.closed,
        onState: (s) => (layer.state = s),
      });
    }
    return layer;
  }

  /** [0, landmark) in one request (or prefetch_size bytes when there is no landmark). */
  private startPrefetch(config: StargzConfig): Promise<void> | undefined {
    if (config.noprefetch) return undefined;
    const mark = this.reader.landmark();
    const end = mark.kind === "prefetch" ? mark.prefetchEnd : mark.kind === "none" ? config.prefetch_size : 0;
    const ids = chunksBefore(this.fetcher.chunks, end ?? 0).filter((id) => !this.fetcher.isCached(id));
    if (ids.length === 0) return undefined;
    this.state = "prefetching";
    // One request for the whole prioritized range, however large.
    return this.fetcher.ensure(ids, { urgent: true, maxRequestBytes: Number.MAX_SAFE_INTEGER });
  }

  /** A file read chunk after chunk gets its next chunks fetched ahead, in the background. */
  private readAhead(ids: number[], count: number): void {
    if (count === 0 || ids.length === 0) return;
    const last = Math.max(...ids);
    const first = Math.min(...ids);
    const c = this.fetcher.chunks[first];
    const prev = this.fetcher.chunks[first - 1];
    const sequential = c.index > 0 && prev?.file === c.file && this.fetcher.isCached(prev.id);
    if (!sequential) return;
    const ahead: number[] = [];
    for (let id = last + 1; id <= last + count && id < this.fetcher.chunks.length; id++) {
      if (this.fetcher.chunks[id].file !== c.file) break;
      if (!this.fetcher.isCached(id) && !this.fetcher.isInflight(id)) ahead.push(id);
    }
    if (ahead.length) this.fetcher.ensure(ahead, { urgent: true }).catch(() => {});
  }

  status(): LayerStatus {
    return {
      digest: this.digest,
      imageRef: this.layer.imageRef,
      size: this.layer.descriptor.size,
      fetched: this.fetched,
      state: this.state,
      ...(this.fetcher.lastError ? { lastError: this.fetcher.lastError } : {}),
    };
  }

  async close(): Promise<void> {
    if (this.closed && !this.mount) return;
    this.closed = true;
    this.state = "unmounted";
    const m = this.mount;
    this.mount = undefined;
    try {
      await m?.unmount();
    } finally {
      this.channel.close();
    }
  }
}

export { EstargzError };
