// snapshotter.stargz: the overlay snapshotter, where a committed layer snapshot's fs can be a lazy
// FUSE mount of an eStargz blob in a registry. prepare/view stack those mounts as lowerdirs like
// any unpacked layer; layers that are not eStargz are pulled and unpacked by the caller (applyLayer).
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { DirSnapshotter, diskUsage } from "../../core/layer/dir-snapshotter.ts";
import type { DiffOptions, LayerDigest, LayerSnapshotter, LayerStream, TarSource } from "../../core/layer/types.ts";
import { findCredential, type CredentialSource } from "../../core/registry/credentials.ts";
import type { RegistryConfigMap } from "../../core/registry/endpoint.ts";
import type { AccessRecorder, AccessRecording, LayerAccesses, Mount, PrepareOptions, RemoteLayer, RemotePrepareResult, RemoteSnapshotter, SnapshotInfo, SnapshotUsage } from "../../core/snapshot/types.ts";
import { overlayDriver } from "../snapshotter-overlay/driver.ts";
import { TOC_DIGEST_ANNOTATION } from "./estargz/index.ts";
import { cleanupStaleMounts } from "./fuse/mountinfo.ts";
import type { StargzConfig } from "./config.ts";
import { FetchThread, LAZYFS_MODULE } from "./fetch-thread.ts";
import { endSpareThreads, warmFuseThreads } from "./fuse/mount.ts";
import { LazyLayer, type LayerStatus } from "./lazy-layer.ts";
import { layerCacheDir } from "./lazyfs/chunks.ts";
import { phase } from "../../core/progress/phases.ts";

/** Labels a remote snapshot carries: enough to mount it again after a restart. */
export const REMOTE_LABEL = "containerd.io/snapshot/remote";
const L = {
  ref: "containerd.io/snapshot/remote/stargz.reference",
  registry: "containerd.io/snapshot/remote/stargz.registry",
  repository: "containerd.io/snapshot/remote/stargz.repository",
  digest: "containerd.io/snapshot/remote/stargz.digest",
  size: "containerd.io/snapshot/remote/stargz.size",
  mediaType: "containerd.io/snapshot/remote/stargz.mediatype",
  toc: TOC_DIGEST_ANNOTATION,
} as const;

export interface StargzSnapshotterOptions {
  root: string;
  config: StargzConfig;
  /** `[registry."host"]` tables (mirrors, TLS) for blob requests. */
  registries?: RegistryConfigMap;
  /** Auth plugins; asked in the main thread for each layer's registry. */
  credentials?: readonly CredentialSource[];
  log?: (m: string) => void;
}

export class StargzSnapshotter implements RemoteSnapshotter, LayerSnapshotter, AccessRecorder {
  private readonly dirs: DirSnapshotter;
  private readonly cacheDir: string;
  private fetchThread: FetchThread | undefined;
  /** mountLayer() calls between their start and their FUSE mount (spare reader threads wanted). */
  private pendingMounts = 0;
  /** Mounted lazy layers by snapshot key. */
  private readonly layers = new Map<string, LazyLayer>();
  private readonly mounting = new Map<string, Promise<LazyLayer>>();
  /** prepareRemote() calls under way, by snapshot key. */
  private readonly preparing = new Map<string, Promise<RemotePrepareResult>>();
  /** Layers mounted ahead of prepareRemote() by warmRemote(), by blob digest: each in an active
   *  snapshot of its own without a parent, committed onto its parent when prepared. */
  private readonly staged = new Map<string, { staged: Promise<Staged>; expectedTocDigest: string | undefined }>();
  /** Active access recordings: layer digest → paths opened (insertion order = first open). */
  private readonly recordings = new Set<Map<string, Set<string>>>();
  /** Layers mounted while this is off answer no OPEN (zero-message open) and report nothing. */
  private recordOpens = true;
  private readonly log: (m: string) => void;
  private closed = false;

  constructor(private readonly opts: StargzSnapshotterOptions) {
    this.log = opts.log ?? ((m) => console.error(m));
    // Mounts left by a killed process must go before the store prunes or reuses their dirs.
    const stale = cleanupStaleMounts(opts.root);
    if (stale.length) this.log(`stargz: detached ${stale.length} stale mount(s) under ${opts.root}`);
    this.dirs = new DirSnapshotter(opts.root, overlayDriver());
    this.cacheDir = join(opts.root, "cache");
    // A root without lazy layers yet (a first build) will most likely mount some soon: the fetch
    // thread (and its decoders) start now, while the plugins start and the manifest is fetched,
    // instead of on the first mount's path (45-65 ms there). A root that has them (a rebuild, most
    // likely all cached) starts it on first use.
    if (this.lazyLayerDigests().size === 0) this.fetcher();
  }

  /** Blob digests of the lazy layers committed in this root. */
  private lazyLayerDigests(): Set<string> {
    const out = new Set<string>();
    for (const key of this.dirs.store.keys()) {
      const s = this.dirs.store.get(key);
      if (s?.kind === "committed" && s.labels[REMOTE_LABEL] === "true") out.add(s.labels[L.digest]);
    }
    return out;
  }

  /** Whether the fetch thread runs (for tests: started early on a root without lazy layers). */
  get fetchThreadStarted(): boolean {
    return this.fetchThread !== undefined;
  }

  private isRemote(key: string): boolean {
    return this.dirs.store.get(key)?.labels[REMOTE_LABEL] === "true";
  }

  private fsDir(key: string): string {
    return join(this.dirs.store.dir(this.dirs.store.require(key).id), "fs");
  }

  /** Mounts every remote snapshot in `parent`'s chain that is not mounted yet (after a restart).
   *  Each lazy layer is a FUSE mount of its own: they all mount at once. */
  private async ensureChain(parent: string | undefined): Promise<void> {
    const remote: string[] = [];
    for (let k = parent; k !== undefined; k = this.dirs.store.get(k)?.parent) if (this.isRemote(k)) remote.push(k);
    const results = await Promise.allSettled(remote.map((k) => this.ensureMounted(k)));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  private ensureMounted(key: string): Promise<LazyLayer> {
    const live = this.layers.get(key);
    if (live) return Promise.resolve(live);
    let p = this.mounting.get(key);
    if (!p) {
      const labels = this.dirs.store.require(key).labels;
      const layer: RemoteLayer = {
        imageRef: labels[L.ref] ?? "",
        registry: labels[L.registry],
        repository: labels[L.repository],
        descriptor: { digest: labels[L.digest], size: Number(labels[L.size]), mediaType: labels[L.mediaType] ?? "", annotations: labels[L.toc] ? { [TOC_DIGEST_ANNOTATION]: labels[L.toc] } : {} },
      };
      p = this.mountLayer(key, layer, this.fsDir(key), labels[L.toc]);
      this.mounting.set(key, p);
      p.finally(() => this.mounting.delete(key)).catch(() => {});
    }
    return p;
  }

  private fetcher(): FetchThread {
    if (!this.fetchThread) {
      this.fetchThread = new FetchThread(
        { config: this.opts.config, registries: this.opts.registries ?? {}, cacheDir: this.cacheDir, tocDir: join(this.opts.root, "toc") },
        this.opts.config.decode_threads,
        this.log,
      );
      // The FUSE threads the mounts under way will take start while their TOCs are on the way:
      // not before the fetch thread has sent the requests (threads starting at once share 2 cores).
      this.fetchThread.onOpening = () => {
        if (!this.closed) warmFuseThreads({ fsModule: LAZYFS_MODULE, workers: this.opts.config.fuse.workers, readers: this.pendingMounts });
      };
    }
    return this.fetchThread;
  }

  /** The TOC digest a layer's TOC is checked against (undefined: not checked). */
  private expectedToc(layer: RemoteLayer): string | undefined {
    return this.opts.config.disable_verification ? undefined : layer.descriptor.annotations?.[TOC_DIGEST_ANNOTATION];
  }

  /**
   * Starts mounting every given layer at once — footer and TOC fetched and verified, prefetch of
   * the prioritized files begun, FUSE mounted — ahead of prepareRemote(), which is called layer
   * by layer on each one's parent. Each lazy layer is a FUSE mount of its own that does not need
   * the layers below it, so it goes into an active snapshot without a parent and is committed
   * onto its parent when prepared. An image's layers then cost one round of TOC requests and one
   * mount time instead of one per layer. A layer mounted here and never prepared is unmounted
   * and removed with the snapshotter. Layers without a TOC digest are left alone (prepareRemote
   * refuses them unless verification is off), and with `unlessPresent` so are layers committed
   * lazily before (a rebuild needs no TOC fetched).
   */
  warmRemote(layers: RemoteLayer[], opts?: { unlessPresent?: boolean }): void {
    if (this.closed) return;
    if (opts?.unlessPresent) {
      const present = this.lazyLayerDigests();
      layers = layers.filter((l) => !present.has(l.descriptor.digest));
    }
    for (const layer of layers) {
      const digest = layer.descriptor.digest;
      const expectedTocDigest = this.expectedToc(layer);
      if (this.staged.has(digest) || (!expectedTocDigest && !this.opts.config.disable_verification)) continue;
      const staged = this.stage(layer, expectedTocDigest);
      staged.catch(() => {}); // a failure surfaces in prepareRemote, which falls back to a pull
      this.staged.set(digest, { staged, expectedTocDigest });
    }
  }

  /** Mounts `layer` in a new active snapshot without a parent; on failure nothing is left. */
  private async stage(layer: RemoteLayer, expectedTocDigest: string | undefined): Promise<Staged> {
    const tmpKey = `remote-${randomBytes(6).toString("hex")} ${layer.descriptor.digest}`;
    await this.dirs.prepare(tmpKey, undefined);
    try {
      return { tmpKey, lazy: await this.mountLayer(tmpKey, layer, this.fsDir(tmpKey), expectedTocDigest) };
    } catch (e) {
      this.layers.delete(tmpKey);
      await this.dirs.remove(tmpKey).catch(() => {});
      throw e;
    }
  }

  /** Unmounts and removes a staged layer that will not be committed. */
  private async unstage({ tmpKey, lazy }: Staged): Promise<void> {
    this.layers.delete(tmpKey);
    try {
      await lazy.close();
    } finally {
      await this.dirs.remove(tmpKey);
    }
  }

  private async mountLayer(key: string, layer: RemoteLayer, mountpoint: string, expectedTocDigest: string | undefined): Promise<LazyLayer> {
    if (this.closed) throw new Error(`snapshotter.stargz is closed; cannot mount ${layer.descriptor.digest}`);
    phase("lazy-mount-start");
    this.pendingMounts++;
    const lazy = await LazyLayer.mount({
      layer,
      credential: await findCredential(this.opts.credentials ?? [], layer.registry),
      config: this.opts.config,
      expectedTocDigest,
      mountpoint,
      cacheDir: this.cacheDir,
      fetchThread: this.fetcher(),
      log: this.log,
      onAccess: this.recordOpens
        ? (path) => {
            for (const r of this.recordings) record(r, layer.descriptor.digest, path);
          }
        : undefined,
    }).finally(() => this.pendingMounts--);
    this.layers.set(key, lazy);
    phase("lazy-mounted");
    return lazy;
  }

  /**
   * Two builds may prepare the same layer at once (one base image under two images in the
   * daemon): the second waits for the first and then finds the snapshot, instead of staging a
   * mount of its own that cannot be committed under the same key.
   */
  async prepareRemote(key: string, parent: string | undefined, layer: RemoteLayer, signal?: AbortSignal): Promise<RemotePrepareResult> {
    for (let running = this.preparing.get(key); running; running = this.preparing.get(key)) await running.catch(() => {});
    const p = this.prepareRemoteOnce(key, parent, layer, signal);
    this.preparing.set(key, p);
    p.finally(() => this.preparing.delete(key)).catch(() => {});
    return p;
  }

  private async prepareRemoteOnce(key: string, parent: string | undefined, layer: RemoteLayer, signal?: AbortSignal): Promise<RemotePrepareResult> {
    signal?.throwIfAborted();
    if (this.dirs.store.get(key)) {
      if (!this.isRemote(key)) return { lazy: false, reason: `snapshot ${JSON.stringify(key)} already exists and is not remote` };
      await this.ensureMounted(key);
      return { lazy: true };
    }
    const digest = layer.descriptor.digest;
    const tocDigest = layer.descriptor.annotations?.[TOC_DIGEST_ANNOTATION];
    if (!tocDigest && !this.opts.config.disable_verification) {
      return { lazy: false, reason: `layer ${digest} has no ${TOC_DIGEST_ANNOTATION} annotation (not eStargz)` };
    }
    const expectedTocDigest = this.expectedToc(layer);
    let ahead = this.staged.get(digest);
    this.staged.delete(digest);
    if (ahead && ahead.expectedTocDigest !== expectedTocDigest) {
      await ahead.staged.then((st) => this.unstage(st)).catch(() => {});
      ahead = undefined;
    }
    const staging = ahead?.staged ?? this.stage(layer, expectedTocDigest);
    let staged: Staged | undefined;
    try {
      await this.ensureChain(parent);
      staged = await staging;
      signal?.throwIfAborted();
      await this.dirs.commitOnto(key, staged.tmpKey, parent, {
        labels: {
          [REMOTE_LABEL]: "true",
          [L.ref]: layer.imageRef,
          [L.registry]: layer.registry,
          [L.repository]: layer.repository,
          [L.digest]: digest,
          [L.size]: String(layer.descriptor.size),
          [L.mediaType]: layer.descriptor.mediaType,
          ...(tocDigest ? { [L.toc]: tocDigest } : {}),
        },
      });
      this.layers.delete(staged.tmpKey);
      this.layers.set(key, staged.lazy);
      return { lazy: true };
    } catch (e) {
      if (staged) await this.unstage(staged).catch(() => {});
      else await staging.then((st) => this.unstage(st)).catch(() => {});
      if (signal?.aborted) throw e;
      return { lazy: false, reason: (e as Error).message.split("\n")[0] };
    }
  }

  setAccessRecording(on: boolean): void {
    this.recordOpens = on;
  }

  remoteStatus(): LayerStatus[] {
    return [...this.layers.values()].map((l) => l.status());
  }

  /** Records which files the lazy layers serve an OPEN for until stop() (for prioritized-file
   *  lists). Overlapping recordings each see every open made while they run. */
  recordAccess(): AccessRecording {
    const rec = new Map<string, Set<string>>();
    this.recordings.add(rec);
    return {
      stop: async () => {
        // FUSE workers report opens as messages posted before they answer the kernel; those of
        // the last instant may still be on their way when the process that made them has exited.
        // A flush round trip through every mount's workers brings them all in.
        if (this.recordings.has(rec)) await Promise.all([...this.layers.values()].map((l) => l.flushAccess()));
        this.recordings.delete(rec);
        const out: LayerAccesses = {};
        for (const [layer, files] of rec) out[layer] = [...files];
        return out;
      },
    };
  }

  async prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    await this.ensureChain(parent);
    return this.dirs.prepare(key, parent, opts);
  }

  async view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    await this.ensureChain(parent);
    return this.dirs.view(key, parent, opts);
  }

  async mounts(key: string): Promise<Mount[]> {
    await this.ensureChain(this.dirs.store.require(key, ["active", "view"]).parent);
    return this.dirs.mounts(key);
  }

  commit(name: string, key: string, opts?: PrepareOptions): Promise<void> {
    return this.dirs.commit(name, key, opts);
  }

  async remove(key: string): Promise<void> {
    const lazy = this.layers.get(key);
    if (lazy) {
      if (this.dirs.store.children(key).length === 0) {
        await lazy.close();
        this.layers.delete(key);
      }
    }
    await this.dirs.remove(key);
  }

  stat(key: string): Promise<SnapshotInfo | undefined> {
    return this.dirs.stat(key);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    if (!this.isRemote(key)) return this.dirs.usage(key);
    // A lazy layer occupies only the chunks it has cached.
    const dir = layerCacheDir(this.cacheDir, this.dirs.store.require(key).labels[L.digest]);
    try {
      return diskUsage(dir);
    } catch {
      return { size: 0, inodes: 0 };
    }
  }

  walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void> {
    return this.dirs.walk(fn);
  }

  async applyLayer(key: string, parent: string | undefined, tar: TarSource, opts?: PrepareOptions): Promise<LayerDigest> {
    await this.ensureChain(parent);
    return this.dirs.applyLayer(key, parent, tar, opts);
  }

  async diff(key: string, opts?: DiffOptions): Promise<LayerStream> {
    const s = this.dirs.store.require(key, ["active", "committed"]);
    await this.ensureChain(s.kind === "committed" ? key : s.parent);
    return this.dirs.diff(key, opts);
  }

  /** Unmounts every lazy layer. Snapshots stay recorded and mount again on next use. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.mounting.values()]);
    // Mounted ahead and never prepared: unmounted, and their snapshots removed.
    const unused = [...this.staged.values()];
    this.staged.clear();
    await Promise.allSettled(unused.map(async (w) => this.unstage(await w.staged)));
    const all = [...this.layers.values()];
    this.layers.clear();
    const results = await Promise.allSettled(all.map((l) => l.close()));
    phase("lazy-unmounted");
    await this.fetchThread?.terminate();
    this.fetchThread = undefined;
    endSpareThreads();
    const failed = results.filter((r) => r.status === "rejected") as PromiseRejectedResult[];
    if (failed.length) throw new Error(`snapshotter.stargz: ${failed.length} layer(s) did not unmount: ${(failed[0].reason as Error).message}`);
  }
}

interface Staged {
  /** The active snapshot (no parent) the layer is mounted in. */
  tmpKey: string;
  lazy: LazyLayer;
}

function record(rec: Map<string, Set<string>>, layer: string, path: string): void {
  let s = rec.get(layer);
  if (!s) rec.set(layer, (s = new Set()));
  s.add(path);
}
