// The worker's image provider: resolves references to manifest + config (nothing else fetched),
// turns layers into committed snapshots (lazily through a remote snapshotter, or pulled into the
// content store, verified, and unpacked), and opens layer blobs for exporters.
import { createHash } from 'node:crypto';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as zlib from 'node:zlib';
import type { RegistryClient } from '../registry/client.ts';
import { parseReference, formatReference, type Reference } from '../registry/reference.ts';
import type { ContentStore } from '../content/store.ts';
import { resolveImage, checkConfigPlatform } from '../image/resolve.ts';
import { parseImageConfig } from '../image/config.ts';
import { layerCompression } from '../image/media-types.ts';
import type { LayerSnapshotter } from '../layer/types.ts';
import { isRemoteSnapshotter } from '../snapshot/types.ts';
import type { Platform } from '../graph/ops.ts';
import type { VertexProgress } from '../progress/events.ts';
import type { Descriptor } from '../export/types.ts';
import type { ImageInfo, ImageProvider, LayerRecord, UnpackedImage } from '../solver/worker.ts';
import { formatBytes } from '../progress/plain.ts';
import { phase } from '../progress/phases.ts';

/** chainID(n) = sha256(chainID(n-1) + " " + diffID(n)), as in the OCI image spec. */
export function chainIDs(diffIDs: string[]): string[] {
  const out: string[] = [];
  for (const d of diffIDs) {
    const prev = out[out.length - 1];
    out.push(prev ? 'sha256:' + createHash('sha256').update(`${prev} ${d}`).digest('hex') : d);
  }
  return out;
}

export interface LayerOutcome {
  imageRef: string;
  digest: string;
  size: number;
  how: 'lazy' | 'pulled' | 'present';
  reason?: string;
}

export class RegistryImageProvider implements ImageProvider {
  private readonly unpacking = new Map<string, Promise<UnpackedImage>>();
  readonly outcomes: LayerOutcome[] = [];

  constructor(
    private readonly client: RegistryClient,
    private readonly store: ContentStore,
    private readonly snapshotter: LayerSnapshotter,
    private readonly log: (line: string) => void = () => {},
  ) {}

  async resolve(refText: string, platform: Platform): Promise<ImageInfo> {
    const ref = parseReference(refText);
    phase('resolve-start');
    const resolved = await resolveImage(this.client, ref, platform);
    phase('manifest');
    if (isRemoteSnapshotter(this.snapshotter) && this.snapshotter.warmRemote) {
      // Lazy layers start opening (footers, TOCs, mounts) while the config is fetched.
      const imageRef = formatReference(ref);
      const layers = resolved.manifest.layers as Descriptor[];
      this.snapshotter.warmRemote(layers.map((descriptor) => ({ imageRef, registry: ref.registry, repository: ref.repository, descriptor })), { unlessPresent: true });
    }
    const cfgDesc = resolved.manifest.config;
    await this.store.ingest({ digest: cfgDesc.digest, size: cfgDesc.size }, async () => [await this.client.fetchBlob(ref, cfgDesc.digest)]);
    const config = parseImageConfig(await this.store.read(cfgDesc.digest), cfgDesc.digest) as Record<string, any>;
    phase('image-config');
    const actual = resolved.index ? resolved.platform : checkConfigPlatform(formatReference(ref), platform, config as any, false);
    const diffIDs: string[] = config.rootfs?.diff_ids ?? [];
    if (diffIDs.length !== resolved.manifest.layers.length) {
      throw new Error(`image ${formatReference(ref)}: config lists ${diffIDs.length} diff_ids for ${resolved.manifest.layers.length} layers`);
    }
    return {
      ref: formatReference(ref),
      digest: resolved.manifestDesc.digest,
      repository: `${ref.registry}/${ref.repository}`,
      config,
      layers: resolved.manifest.layers as Descriptor[],
      platform: actual,
    };
  }

  unpack(img: ImageInfo, progress?: VertexProgress, signal?: AbortSignal): Promise<UnpackedImage> {
    let p = this.unpacking.get(img.digest);
    if (!p) {
      this.unpacking.set(img.digest, (p = this.doUnpack(img, progress, signal)));
      p.catch(() => this.unpacking.delete(img.digest));
    }
    return p;
  }

  private async doUnpack(img: ImageInfo, progress?: VertexProgress, signal?: AbortSignal): Promise<UnpackedImage> {
    const prefetch = new AbortController();
    try {
      if (!isRemoteSnapshotter(this.snapshotter)) await this.prefetch(img, progress, signal ? AbortSignal.any([signal, prefetch.signal]) : prefetch.signal);
      return await this.unpackInOrder(img, progress, signal);
    } finally {
      // Still running here only when an unpack failed.
      prefetch.abort();
    }
  }

  /**
   * A full pull downloads the missing layers one after the other, without waiting for their
   * unpack, while the layers are unpacked in order, each as its bytes arrive (store.follow joins
   * the download). One at a time, bottom first: the layer being unpacked gets the whole link,
   * and the next one is mostly in before its unpack starts (unpacking is the slower part).
   * A remote snapshotter decides per layer whether to fetch it at all: nothing goes ahead for it.
   */
  private async prefetch(img: ImageInfo, progress: VertexProgress | undefined, signal: AbortSignal): Promise<void> {
    const chains = chainIDs(img.config.rootfs?.diff_ids ?? []);
    const ref = parseReference(img.ref);
    const missing: Descriptor[] = [];
    for (const [i, desc] of img.layers.entries()) if (!(await this.snapshotter.stat(`layer/${chains[i].slice(7)}`))) missing.push(desc);
    // A failed download fails the unpack that joined it; one that failed before its unpack began
    // is started again by that unpack (store.follow).
    void (async () => {
      for (const desc of missing) await this.store.ingest(desc, (offset) => this.client.openBlob(ref, desc.digest, offset), { signal, onProgress: this.pullProgress(desc, progress) });
    })().catch(() => {});
  }

  private pullProgress(desc: Descriptor, progress?: VertexProgress) {
    return (done: number, total: number | undefined) => progress?.status(`pulling ${desc.digest.slice(0, 19)}`, done, total ?? desc.size);
  }

  private async unpackInOrder(img: ImageInfo, progress?: VertexProgress, signal?: AbortSignal): Promise<UnpackedImage> {
    phase('unpack-start');
    const diffIDs: string[] = img.config.rootfs?.diff_ids ?? [];
    const chains = chainIDs(diffIDs);
    const ref = parseReference(img.ref);
    const layers: LayerRecord[] = [];
    let parent: string | undefined;
    const remote = (i: number) => ({ imageRef: img.ref, registry: ref.registry, repository: ref.repository, descriptor: img.layers[i], diffID: diffIDs[i] });
    if (isRemoteSnapshotter(this.snapshotter) && this.snapshotter.warmRemote) {
      // Layers are prepared in order (each on its parent); what a lazy layer needs before its
      // mount (footer, TOC, the start of its prefetch) can go out for all of them at once.
      const missing: number[] = [];
      for (const i of img.layers.keys()) if (!(await this.snapshotter.stat(`layer/${chains[i].slice(7)}`))) missing.push(i);
      if (missing.length > 1) this.snapshotter.warmRemote(missing.map(remote));
    }
    for (const [i, desc] of img.layers.entries()) {
      signal?.throwIfAborted();
      const key = `layer/${chains[i].slice(7)}`;
      const outcome: LayerOutcome = { imageRef: img.ref, digest: desc.digest, size: desc.size, how: 'present' };
      if (!(await this.snapshotter.stat(key))) {
        let lazyReason: string | undefined;
        if (isRemoteSnapshotter(this.snapshotter)) {
          const r = await this.snapshotter.prepareRemote(key, parent, remote(i), signal);
          if (r.lazy) outcome.how = 'lazy';
          else lazyReason = r.reason;
        }
        if (outcome.how !== 'lazy') {
          if (lazyReason) this.log(`layer ${desc.digest} of ${img.ref}: pulled in full (${lazyReason})`);
          await this.pullAndApply(ref, desc, diffIDs[i], key, parent, progress, signal);
          outcome.how = 'pulled';
          outcome.reason = lazyReason;
        }
      }
      this.outcomes.push(outcome);
      phase('layer-ready');
      layers.push({ snapshot: key, parent, diffID: diffIDs[i], existing: { descriptor: desc, repository: img.repository, imageRef: img.ref } });
      parent = key;
    }
    return { top: parent, layers };
  }

  private async pullAndApply(ref: Reference, desc: Descriptor, diffID: string, key: string, parent: string | undefined, progress?: VertexProgress, signal?: AbortSignal): Promise<void> {
    progress?.status(`pulling ${desc.digest.slice(0, 19)}`, 0, desc.size);
    progress?.log(`unpacking ${desc.digest} (${formatBytes(desc.size)})\n`);
    // Unpacked while it downloads (or joined to its prefetch). The bytes are verified at the end
    // of the stream, and applyLayer commits the snapshot only after reading the stream to its
    // end: a corrupt blob fails the unpack and leaves no snapshot.
    const blob = this.store.follow({ digest: desc.digest, size: desc.size }, (offset) => this.client.openBlob(ref, desc.digest, offset), { signal, onProgress: this.pullProgress(desc, progress) });
    const tar = decompressNode(desc, blob);
    // Unpack errors name the entry; the layer is named here, since the tar does not know it.
    const got = await this.snapshotter.applyLayer(key, parent, tar).catch((e: Error) => {
      throw new Error(`layer ${desc.digest} of ${formatReference(ref)}: ${e.message}`, { cause: e });
    });
    if (diffID && got.diffID !== diffID) {
      await this.snapshotter.remove(key).catch(() => {});
      throw new Error(`layer ${desc.digest} of ${formatReference(ref)}: uncompressed content has digest ${got.diffID}, image config says ${diffID}`);
    }
  }

  async openBlob(image: { ref: string; repository: string }, desc: Descriptor): Promise<ReadableStream<Uint8Array>> {
    if (await this.store.has(desc.digest)) return this.store.file(desc.digest).stream();
    return this.client.openBlob(parseReference(image.ref), desc.digest);
  }
}

/** Output chunk of the decompressors: zlib's default 16 KiB makes every later stage pay its
 *  per-chunk cost ~30k times for a 469 MB layer; 256 KiB measured fastest (1 MiB was slower). */
const INFLATE_CHUNK = 256 * 1024;
/** Inflated bytes buffered ahead of the consumer, so that inflating (on zlib's thread) goes on
 *  while the consumer (the unpack) works, instead of the two taking turns: measured, taking turns
 *  made a 29 MB layer's unpack 1.5-3× slower on a loaded 2-core machine. */
const INFLATE_AHEAD = 8 * 1024 * 1024;

/** The uncompressed tar stream of a compressed layer blob. */
export function decompress(desc: Descriptor, blob: ReadableStream<Uint8Array>): ReadableStream<Uint8Array> {
  if (layerCompression(desc.mediaType) === 'none') return blob;
  return Readable.toWeb(decompressNode(desc, blob)) as unknown as ReadableStream<Uint8Array>;
}

/** decompress() as a Node stream. An error of the source (e.g. a failed digest check at its end)
 *  fails the output, and an output destroyed early stops the source. */
export function decompressNode(desc: Descriptor, blob: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>): Readable {
  const kind = layerCompression(desc.mediaType);
  let inflate: NodeJS.ReadWriteStream;
  if (kind === 'gzip') inflate = createGunzip({ chunkSize: INFLATE_CHUNK, readableHighWaterMark: INFLATE_AHEAD } as zlib.ZlibOptions);
  else if (kind === 'zstd') {
    const create = (zlib as any).createZstdDecompress;
    if (!create) throw new Error(`layer ${desc.digest}: zstd decompression is not available in this runtime`);
    inflate = create({ chunkSize: INFLATE_CHUNK, readableHighWaterMark: INFLATE_AHEAD });
  } else if (kind !== 'none') throw new Error(`layer ${desc.digest}: unsupported media type ${desc.mediaType}`);
  const source = blob instanceof ReadableStream ? Readable.fromWeb(blob as any) : Readable.from(blob, { objectMode: false });
  if (kind === 'none') return source;
  return pipeline(source, inflate!, () => {}) as unknown as Readable;
}
