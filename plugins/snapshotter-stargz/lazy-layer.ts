// One registry layer mounted lazily (main thread side): the fetch thread opens and verifies its
// TOC and serves chunks; here lazyfs is mounted at the snapshot's dir with that TOC.
import { randomBytes } from "node:crypto";
import type { Credential } from "../../core/registry/credentials.ts";
import type { RemoteLayer } from "../../core/snapshot/types.ts";
import { mountFuse } from "./fuse/mount.ts";
import type { FuseMount, MountStats } from "./fuse/types.ts";
import type { StargzConfig } from "./config.ts";
import type { LayerStatus } from "./fetch-messages.ts";
import { LAZYFS_MODULE, type FetchThread } from "./fetch-thread.ts";
import type { LazyFsInit } from "./lazyfs/protocol.ts";

export type { LayerStatus };

export interface MountLayerParams {
  layer: RemoteLayer;
  credential?: Credential;
  /** The digest the TOC must have (undefined: not checked). */
  expectedTocDigest: string | undefined;
  fetchThread: FetchThread;
  mountpoint: string;
  config: StargzConfig;
  cacheDir: string;
  log: (m: string) => void;
  /** Reports each file opened; without it the mount answers no OPEN at all (zero-message open). */
  onAccess?: (path: string) => void;
}

export class LazyLayer {
  private closed = false;

  private constructor(
    readonly layer: RemoteLayer,
    /** Names the layer in the fetch thread and the FUSE workers' channel. */
    private readonly handle: string,
    private readonly fetchThread: FetchThread,
    private mount: FuseMount | undefined,
  ) {}

  get digest(): string {
    return this.layer.descriptor.digest;
  }

  get mountpoint(): string | undefined {
    return this.mount?.mountpoint;
  }

  static async mount(p: MountLayerParams): Promise<LazyLayer> {
    const digest = p.layer.descriptor.digest;
    // The fetch thread reads and verifies the footer and TOC, builds the layer index and starts the prefetch.
    const handle = `edgebuild-lazyfs-${digest.slice(7, 23)}-${randomBytes(6).toString("hex")}`;
    const toc = await p.fetchThread.open({ key: handle, channel: handle, layer: p.layer, credential: p.credential, expectedTocDigest: p.expectedTocDigest });
    const layer = new LazyLayer(p.layer, handle, p.fetchThread, undefined);
    try {
      const init: LazyFsInit = {
        layerDigest: digest,
        index: toc.index,
        channel: handle,
        cacheDir: p.cacheDir,
        passthrough: p.config.fuse.passthrough,
        memoryCacheBytes: p.config.fuse.memory_cache_mb << 20,
        readaheadChunks: p.config.blob.readahead_chunks,
        overlayXattrPrefix: p.config.overlay_xattr_prefix,
      };
      layer.mount = await mountFuse({
        mountpoint: p.mountpoint,
        fsModule: LAZYFS_MODULE,
        fsInit: init,
        workers: p.config.fuse.workers,
        options: { passthrough: p.config.fuse.passthrough, attrTimeoutSec: p.config.fuse.attr_timeout, entryTimeoutSec: p.config.fuse.attr_timeout, fsName: "edgebuild-stargz" },
        onAccess: p.onAccess && ((r) => r.path !== undefined && p.onAccess!(r.path)),
        onError: (msg) => p.log(`stargz: layer ${digest}: ${msg}`),
      });
    } catch (e) {
      await layer.close().catch(() => {});
      throw e;
    }
    return layer;
  }

  /** Resolves once every OPEN served so far has been reported to onAccess (see FuseMount.flush). */
  flushAccess(): Promise<void> {
    return this.mount?.flush() ?? Promise.resolve();
  }

  /** Request counters of the FUSE mount (undefined once closed). */
  mountStats(): MountStats | undefined {
    return this.mount?.stats();
  }

  status(): LayerStatus {
    const s = this.fetchThread.statuses.get(this.handle);
    const base = { digest: this.digest, imageRef: this.layer.imageRef, size: this.layer.descriptor.size };
    return s ? { ...s, ...base, state: this.closed ? "unmounted" : s.state } : { ...base, fetched: 0, state: this.closed ? "unmounted" : "mounted" };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const m = this.mount;
    this.mount = undefined;
    try {
      await m?.unmount();
    } finally {
      await this.fetchThread.close(this.handle);
    }
  }
}
