// Turns an ExportInput into image blobs: layers (kept as they are or compressed by the compressor
// plugin asked for), the config and the manifest, all addressed by digest. The image, oci and
// docker exporters then store, push or archive what this returns.
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { createReadStream } from 'node:fs';
import type { Compressor, Descriptor, ExportInput, ExportProgress } from './types.ts';
import type { ImageAttrs } from './image-attrs.ts';
import { MediaType } from '../image/media-types.ts';
import { finalImageConfig } from './image-config.ts';
import { stableJsonBytes } from './stable-json.ts';

export interface BuiltBlob {
  descriptor: Descriptor;
  open(): Promise<ReadableStream<Uint8Array>>;
  /** A local file holding exactly these bytes (freshly compressed layers), until dispose(). */
  path?: string;
}

export interface BuiltLayer extends BuiltBlob {
  diffID: string;
  /** True when the input's existing blob was kept as it was. */
  reused: boolean;
  /** "host/repo" holding the blob already (existing layers), for cross-repository mounts. */
  sourceRepository?: string;
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: { descriptor: Descriptor; bytes: Uint8Array };
  manifest: { descriptor: Descriptor; bytes: Uint8Array };
  /** os/architecture/variant of the config, for index entries. */
  platform?: Descriptor['platform'];
  notes: string[];
  /** Removes the temp files of compressed layers. */
  dispose(): Promise<void>;
}

export interface BuildImageOptions extends ImageAttrs {
  exporter: string;
  tmpDir: string;
  /** Compressor plugins by id (from ctx.all('compressor')). */
  compressors: Map<string, Compressor>;
}

/** Same bytes, other family's name: kept layers follow the manifest's choice of OCI or Docker types. */
const TO_DOCKER: Record<string, string> = { [MediaType.ociLayerGzip]: MediaType.dockerLayerGzip, [MediaType.ociLayer]: MediaType.dockerLayer };
const TO_OCI: Record<string, string> = { [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip, [MediaType.dockerLayer]: MediaType.ociLayer };

export function layerMediaTypeFor(mediaType: string, oci: boolean): string {
  return (oci ? TO_OCI : TO_DOCKER)[mediaType] ?? mediaType;
}

const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const bytesStream = (b: Uint8Array) => new Response(b).body as ReadableStream<Uint8Array>;
const short = (d: string) => d.slice(7, 19);

export function compressorFor(opts: Pick<BuildImageOptions, 'exporter' | 'compression' | 'compressors'>): Compressor {
  const c = opts.compressors.get(opts.compression);
  if (!c) {
    const have = [...opts.compressors.keys()].sort().join(', ') || 'none';
    throw new Error(`exporter ${opts.exporter}: compression ${JSON.stringify(opts.compression)} is not available (compressors: ${have})`);
  }
  return c;
}

const LAYER_CONCURRENCY = 2;
const PREVIEW_NAMES = 6;

/** ": a, b, c … (+N more)" for output lines; empty for no names. */
function namesPreview(names: string[]): string {
  if (names.length === 0) return '';
  const shown = names.slice(0, PREVIEW_NAMES).join(', ');
  return `: ${shown}${names.length > PREVIEW_NAMES ? ` … (+${names.length - PREVIEW_NAMES} more)` : ''}`;
}

/** Runs run(0..n-1) at most `limit` at a time; waits for all (so no temp file appears after a failure). */
async function settleWithLimit<T>(n: number, limit: number, run: (i: number) => Promise<T>): Promise<PromiseSettledResult<T>[]> {
  const out: PromiseSettledResult<T>[] = new Array(n);
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      if (failed) {
        out[i] = { status: 'rejected', reason: new Error('skipped after an earlier layer failed') };
        continue;
      }
      try {
        out[i] = { status: 'fulfilled', value: await run(i) };
      } catch (reason) {
        failed = true;
        out[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, n) }, worker));
  return out;
}

export async function buildImage(input: ExportInput, opts: BuildImageOptions, progress: ExportProgress, signal?: AbortSignal): Promise<BuiltImage> {
  const compressor = compressorFor(opts);
  const temps: string[] = [];
  const dispose = async () => {
    await Promise.all(temps.map((p) => rm(p, { force: true })));
  };
  const notes: string[] = [];
  const buildLayer = async (i: number): Promise<BuiltLayer> => {
    signal?.throwIfAborted();
    const layer = input.layers[i];
    const ex = layer.existing;
    // estargz-optimize re-compresses a forced base layer even when it is eStargz already: its
    // order is the point.
    if (ex && (!opts.force || (compressor.matches(ex.descriptor) && !opts.estargzOptimize))) {
      const d = ex.descriptor;
      const descriptor: Descriptor = { ...d, mediaType: layerMediaTypeFor(d.mediaType, opts.oci) };
      const unoptimized = opts.estargzOptimize ? '; not optimized (force-compression=true re-writes base layers prioritized)' : '';
      notes[i] = `layer ${i + 1} ${short(d.digest)} kept as ${d.mediaType}${opts.force ? '' : ' (no force-compression)'}${unoptimized}`;
      return { descriptor, diffID: layer.diffID, reused: true, sourceRepository: ex.sourceRepository, open: () => ex.open() };
    }
    const prioritizedFiles = opts.estargzOptimize ? (layer.accessed ?? []) : undefined;
    progress.log(`compressing layer ${i + 1}/${input.layers.length} with ${opts.compression}${prioritizedFiles ? `, ${prioritizedFiles.length} recorded file(s) first` : ''}`);
    const extra = prioritizedFiles ? { prioritizedFiles } : undefined;
    const blob = await compressor.compress(await layer.openTar(), { level: opts.level, oci: opts.oci, tmpDir: opts.tmpDir, extra });
    temps.push(blob.path);
    if (prioritizedFiles) {
      const what = ex ? `base layer ${short(ex.descriptor.digest)}` : `layer of ${JSON.stringify(layer.createdBy ?? 'a build step')}`;
      const recorded = layer.accessed === undefined ? 'nothing recorded for it' : `${prioritizedFiles.length} recorded`;
      const placed = blob.prioritizedFiles ?? [];
      notes[i] = `layer ${i + 1} ${short(blob.digest)} optimized (${what}): ${placed.length} file(s) prioritized before .prefetch.landmark (${recorded})${namesPreview(placed)}`;
    }
    // estargz-like compressors append a TOC, so the blob's own diffID is what the config lists.
    const descriptor: Descriptor = { mediaType: blob.mediaType, digest: blob.digest, size: blob.size, ...(blob.annotations ? { annotations: blob.annotations } : {}) };
    return { descriptor, diffID: blob.diffID, reused: false, path: blob.path, open: async () => Readable.toWeb(createReadStream(blob.path)) as ReadableStream<Uint8Array> };
  };
  try {
    // Hashing runs on this thread, compression on libuv's pool: two layers at a time keep both busy.
    const settled = await settleWithLimit(input.layers.length, LAYER_CONCURRENCY, buildLayer);
    const failed = settled.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const layers = settled.map((r) => (r as PromiseFulfilledResult<BuiltLayer>).value);
    notes.splice(0, notes.length, ...notes.filter(Boolean));

    const configJson = finalImageConfig(input.imageConfig, layers.map((l) => l.diffID), input.sourceDateEpoch);
    const configBytes = stableJsonBytes(configJson);
    const configDesc: Descriptor = { mediaType: opts.oci ? MediaType.ociConfig : MediaType.dockerConfig, digest: sha256(configBytes), size: configBytes.length };
    const manifestBytes = stableJsonBytes({
      schemaVersion: 2,
      mediaType: opts.oci ? MediaType.ociManifest : MediaType.dockerManifest,
      config: configDesc,
      layers: layers.map((l) => l.descriptor),
    });
    const manifestDesc: Descriptor = { mediaType: opts.oci ? MediaType.ociManifest : MediaType.dockerManifest, digest: sha256(manifestBytes), size: manifestBytes.length };
    const os = configJson.os, architecture = configJson.architecture, variant = configJson.variant;
    const platform = typeof os === 'string' && typeof architecture === 'string'
      ? { os, architecture, ...(typeof variant === 'string' ? { variant } : {}) }
      : undefined;
    return { layers, config: { descriptor: configDesc, bytes: configBytes }, manifest: { descriptor: manifestDesc, bytes: manifestBytes }, platform, notes, dispose };
  } catch (e) {
    await dispose();
    throw e;
  }
}

/** Every blob of the image (layers deduplicated by digest, then config), for writers and pushers. */
export function imageBlobs(img: BuiltImage): BuiltBlob[] {
  const seen = new Set<string>();
  const out: BuiltBlob[] = [];
  for (const l of img.layers) {
    if (seen.has(l.descriptor.digest)) continue;
    seen.add(l.descriptor.digest);
    out.push(l);
  }
  out.push({ descriptor: img.config.descriptor, open: async () => bytesStream(img.config.bytes) });
  return out;
}
