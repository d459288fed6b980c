// Cache import: reads cache manifests (registry refs or OCI layout dirs, our format or inline cache
// in an image config) into one key → layer chain table. On a hit the chain becomes committed
// snapshots named by chainID (shared with image unpacking), fetching only the blobs of layers not
// already present: lazily through a remote snapshotter when it can, else pulled and applied.
import * as v from 'valibot';
import type { RegistryClient } from '../registry/client.ts';
import { formatReference, parseReference } from '../registry/reference.ts';
import type { ContentStore } from '../content/store.ts';
import { ManifestSchema, type Descriptor } from '../image/schemas.ts';
import { OciLayout } from '../image/oci-layout.ts';
import type { Snapshotter } from '../snapshot/types.ts';
import { isRemoteSnapshotter } from '../snapshot/types.ts';
import type { LayerSnapshotter } from '../layer/types.ts';
import type { LayerRecord } from '../solver/worker.ts';
import type { RemoteCacheLookup } from '../solver/solver.ts';
import { chainIDs, decompress } from '../worker/images.ts';
import { CACHE_CONFIG_MEDIA_TYPE, CacheConfigSchema, INLINE_CACHE_KEY, InlineCacheSchema, parseJson } from './format.ts';
import type { CacheImportSpec } from './spec.ts';

/** One layer of an imported chain and where its blob can be read. */
export interface ImportedLayer {
  blob: Descriptor;
  diffID: string;
  /** Registry "host/repo" holding the blob, or an OCI layout directory. */
  from: { registry: string; repository: string; imageRef: string } | { layout: string };
  createdBy?: string;
}

export interface CacheImportDeps {
  client: RegistryClient;
  store: ContentStore;
  snapshotter: Snapshotter;
  log?: (line: string) => void;
  /** Runs one layer fetch as a progress step of its own (name, work). */
  step?: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

const ImageConfigCacheSchema = v.object({ rootfs: v.object({ diff_ids: v.array(v.string()) }), [INLINE_CACHE_KEY]: v.optional(InlineCacheSchema) });

/** Snapshot materialisation is shared by every build of this process (the daemon's concurrent
 *  builds): one fetch and one apply per chainID. */
const applying = new WeakMap<Snapshotter, Map<string, Promise<void>>>();

export class ImportedCache implements RemoteCacheLookup {
  readonly records = new Map<string, ImportedLayer[]>();
  /** Blob digests fetched by this importer (for reports and tests). */
  readonly fetched: string[] = [];

  constructor(private readonly deps: CacheImportDeps) {}

  async add(spec: CacheImportSpec): Promise<number> {
    return spec.type === 'registry' ? this.addRegistry(spec.ref) : this.addLayout(spec.src);
  }

  private async addRegistry(refText: string): Promise<number> {
    const ref = parseReference(refText);
    const name = formatReference(ref);
    const m = await this.deps.client.getManifest(ref);
    const manifest = parseJson(ManifestSchema, m.bytes, `cache ${name}: manifest`);
    const configBytes = await this.deps.client.fetchBlob(ref, manifest.config.digest);
    const from = { registry: ref.registry, repository: ref.repository, imageRef: name };
    return this.addConfig(manifest, configBytes, name, (source) => {
      if (!source) return from;
      const r = parseReference(source);
      return { registry: r.registry, repository: r.repository, imageRef: source };
    });
  }

  private async addLayout(dir: string): Promise<number> {
    const layout = new OciLayout(dir);
    await layout.check();
    const desc = await layout.resolve('latest');
    const manifest = parseJson(ManifestSchema, await layout.readBlob(desc.digest), `cache ${dir}: manifest ${desc.digest}`);
    const configBytes = await layout.readBlob(manifest.config.digest);
    return this.addConfig(manifest, configBytes, dir, (source) => {
      if (!source) return { layout: dir };
      const r = parseReference(source);
      return { registry: r.registry, repository: r.repository, imageRef: source };
    });
  }

  private addConfig(manifest: v.InferOutput<typeof ManifestSchema>, configBytes: Uint8Array, name: string, where: (source?: string) => ImportedLayer['from']): number {
    if (manifest.config.mediaType === CACHE_CONFIG_MEDIA_TYPE) {
      const cfg = parseJson(CacheConfigSchema, configBytes, `cache ${name}: config ${manifest.config.digest}`);
      const layers = cfg.layers.map((l, i): ImportedLayer => {
        if (!l.source && !manifest.layers.some((d) => d.digest === l.blob.digest)) throw new Error(`cache ${name}: layers.${i} (${l.blob.digest}) is neither in the manifest nor has a source`);
        return { blob: l.blob, diffID: l.diffID, from: where(l.source), createdBy: l.createdBy };
      });
      for (const [i, r] of cfg.records.entries()) {
        const bad = r.chain.find((n) => n >= layers.length);
        if (bad !== undefined) throw new Error(`cache ${name}: records.${i}.chain refers to layer ${bad} of ${layers.length}`);
        this.records.set(r.key, r.chain.map((n) => layers[n]));
      }
      return cfg.records.length;
    }
    // An image: inline cache in its config, chains are prefixes of its layers.
    const cfg = parseJson(ImageConfigCacheSchema, configBytes, `cache ${name}: image config ${manifest.config.digest}`);
    const inline = cfg[INLINE_CACHE_KEY];
    if (!inline) throw new Error(`cache ${name}: image has no inline cache (build it with --export-cache type=inline)`);
    if (cfg.rootfs.diff_ids.length !== manifest.layers.length) throw new Error(`cache ${name}: config lists ${cfg.rootfs.diff_ids.length} diff_ids for ${manifest.layers.length} layers`);
    const layers = manifest.layers.map((d, i): ImportedLayer => ({ blob: d, diffID: cfg.rootfs.diff_ids[i], from: where() }));
    for (const r of inline.records) {
      if (r.layers > layers.length) throw new Error(`cache ${name}: inline record ${r.key} needs ${r.layers} layers, image has ${layers.length}`);
      this.records.set(r.key, layers.slice(0, r.layers));
    }
    return inline.records.length;
  }

  async load(key: string, signal?: AbortSignal): Promise<LayerRecord[] | undefined> {
    const chain = this.records.get(key);
    if (!chain?.length) return undefined;
    const ids = chainIDs(chain.map((l) => l.diffID));
    const out: LayerRecord[] = [];
    let parent: string | undefined;
    for (const [i, l] of chain.entries()) {
      signal?.throwIfAborted();
      const snapshot = `layer/${ids[i].slice(7)}`;
      await this.ensure(snapshot, parent, l, signal);
      const existing = 'layout' in l.from
        ? { descriptor: l.blob, repository: '', imageRef: `oci:${l.from.layout}` }
        : { descriptor: l.blob, repository: `${l.from.registry}/${l.from.repository}`, imageRef: l.from.imageRef };
      out.push({ snapshot, parent, diffID: l.diffID, existing, createdBy: l.createdBy });
      parent = snapshot;
    }
    return out;
  }

  private ensure(snapshot: string, parent: string | undefined, l: ImportedLayer, signal?: AbortSignal): Promise<void> {
    const sn = this.deps.snapshotter;
    let m = applying.get(sn);
    if (!m) applying.set(sn, (m = new Map()));
    let p = m.get(snapshot);
    if (!p) {
      p = this.materialise(snapshot, parent, l, signal);
      m.set(snapshot, p);
      const map = m;
      p.then(() => map.delete(snapshot), () => map.delete(snapshot));
    }
    return p;
  }

  private async materialise(snapshot: string, parent: string | undefined, l: ImportedLayer, signal?: AbortSignal): Promise<void> {
    const sn = this.deps.snapshotter;
    if (await sn.stat(snapshot)) return;
    if ('registry' in l.from && isRemoteSnapshotter(sn)) {
      const r = await sn.prepareRemote(snapshot, parent, { imageRef: l.from.imageRef, registry: l.from.registry, repository: l.from.repository, descriptor: l.blob, diffID: l.diffID }, signal);
      if (r.lazy) return;
    }
    if (!('applyLayer' in sn)) throw new Error(`cache import: snapshotter cannot apply layers (layer ${l.blob.digest})`);
    const step = this.deps.step ?? ((_name, fn) => fn());
    await step(`importing cache layer ${l.blob.digest.slice(0, 19)} (${l.blob.size} bytes)${l.createdBy ? ` from ${l.createdBy}` : ''}`, () => this.fetchAndApply(snapshot, parent, l, signal));
  }

  private async fetchAndApply(snapshot: string, parent: string | undefined, l: ImportedLayer, signal?: AbortSignal): Promise<void> {
    const sn = this.deps.snapshotter;
    const { client, store } = this.deps;
    const from = l.from;
    if (!(await store.has(l.blob.digest))) {
      this.fetched.push(l.blob.digest);
      await store.ingest({ digest: l.blob.digest, size: l.blob.size }, async (offset) =>
        'layout' in from ? new OciLayout(from.layout).file(l.blob.digest).slice(offset).stream() : client.openBlob(from, l.blob.digest, offset), { signal });
    }
    const got = await (sn as LayerSnapshotter).applyLayer(snapshot, parent, decompress(l.blob, store.file(l.blob.digest).stream()));
    if (got.diffID !== l.diffID) {
      await sn.remove(snapshot).catch(() => {});
      throw new Error(`cache layer ${l.blob.digest}: uncompressed content has digest ${got.diffID}, cache says ${l.diffID}`);
    }
  }
}

export async function importCaches(specs: CacheImportSpec[], deps: CacheImportDeps): Promise<ImportedCache | undefined> {
  if (!specs.length) return undefined;
  const cache = new ImportedCache(deps);
  for (const s of specs) {
    const where = s.type === 'registry' ? s.ref : s.src;
    try {
      const n = await cache.add(s);
      deps.log?.(`imported cache ${where}: ${n} steps`);
    } catch (e) {
      // A missing or unreadable cache only means nothing is cached, as BuildKit treats it.
      deps.log?.(`cache ${where} not imported: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  return cache;
}

