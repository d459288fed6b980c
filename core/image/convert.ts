// `edgebuild convert`: rewrites an image's layers as eStargz (or zstd:chunked), like
// `nerdctl image convert --estargz`. Each layer is fetched (digest checked), decompressed,
// converted and written; the config's diff_ids take the converted streams' digests (the TOC entry
// changes them); the manifest carries the TOC annotations. Blobs go first, the top manifest last,
// so a destination never names a half-written image.
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { parseManifest, assertImageManifest, ImageFormatError } from './manifest.ts';
import { parseImageConfig } from './config.ts';
import { chooseManifest, hostPlatform, type Platform } from './platform.ts';
import { MediaType } from './media-types.ts';
import { isEstargz } from './estargz.ts';
import type { Descriptor, ImageManifest } from './schemas.ts';
import type { ImageDestination, ImageSource } from './transports.ts';
import { digestOf } from '../content/digest.ts';
import { withContext } from './errors.ts';
import { fetchBlobToFile, overlaySource } from './convert-blobs.ts';
import { convertTarToFile, type EstargzFormat } from '../../plugins/compressor-estargz/compressor.ts';

export interface ConvertOptions {
  format: EstargzFormat;
  /** Write OCI media types (manifest, config, layers); else keep the source's family. */
  oci: boolean;
  level?: number;
  chunkSize?: number;
  /** Compression Workers per layer (bytes do not depend on it). */
  workers?: number;
  /** Every platform of an index (else only `platform`, default this host's). */
  all?: boolean;
  platform?: Platform;
  /** Files to put first in every layer that holds them (`--estargz-record-in`). */
  prioritizedFiles?: string[];
  /**
   * Per-image prioritized files by layer index (`--optimize`): called once per manifest before
   * its layers are converted; overrides `prioritizedFiles` for that image.
   */
  prioritize?: (image: SourceImage) => Promise<Map<number, string[]>>;
  tmpDir: string;
  onLayer?: (event: LayerEvent) => void;
}

export interface SourceImage {
  manifestDigest: string;
  manifest: ImageManifest;
  config: Record<string, unknown>;
  source: ImageSource;
}

export interface LayerEvent {
  manifestDigest: string;
  index: number;
  total: number;
  from: Descriptor;
  to: Descriptor;
  /** False when the layer already was in the target format and was kept as it was. */
  converted: boolean;
  uncompressedSize?: number;
  prioritized?: number;
}

export interface ConvertResult {
  digest: string;
  mediaType: string;
  manifests: { digest: string; mediaType: string; layers: LayerEvent[] }[];
}

const TARGET_TYPES: Record<EstargzFormat, string[]> = {
  gzip: [MediaType.ociLayerGzip, MediaType.dockerLayerGzip],
  'zstd-chunked': [MediaType.ociLayerZstd],
};

const jsonBytes = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));

/** Converts one image manifest; returns the new manifest's descriptor and bytes (not yet committed). */
async function convertManifest(src: ImageSource, dst: ImageDestination, manifestDigest: string, manifest: ImageManifest, opts: ConvertOptions, work: string) {
  const configBytes = await new Response(await src.blob(manifest.config)).bytes();
  if (digestOf(configBytes) !== manifest.config.digest) throw new ImageFormatError(`config ${manifest.config.digest} from ${src.name}: content does not match its digest`);
  parseImageConfig(configBytes, manifest.config.digest);
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as Record<string, unknown> & { rootfs: { type: string; diff_ids: string[] } };
  if (config.rootfs?.diff_ids?.length !== manifest.layers.length) {
    throw new ImageFormatError(`config ${manifest.config.digest}: ${config.rootfs?.diff_ids?.length ?? 0} diff_ids for ${manifest.layers.length} layers`);
  }
  const byLayer = opts.prioritize ? await opts.prioritize({ manifestDigest, manifest, config, source: src }) : undefined;

  const local = new Map<string, { path: string } | { bytes: Uint8Array }>();
  const out = overlaySource(src, local);
  const events: LayerEvent[] = [];
  const layers: Descriptor[] = [];
  const diffIDs = [...config.rootfs.diff_ids];
  const oci = opts.oci || manifest.mediaType === MediaType.ociManifest || (!manifest.mediaType && manifest.config.mediaType === MediaType.ociConfig);
  for (const [i, layer] of manifest.layers.entries()) {
    const prioritized = byLayer ? byLayer.get(i) : opts.prioritizedFiles;
    const alreadyThere = TARGET_TYPES[opts.format].includes(layer.mediaType) && isEstargz(layer) && !prioritized?.length;
    let to: Descriptor;
    let event: LayerEvent;
    if (alreadyThere) {
      to = { ...layer, mediaType: oci && layer.mediaType === MediaType.dockerLayerGzip ? MediaType.ociLayerGzip : layer.mediaType };
      event = { manifestDigest, index: i, total: manifest.layers.length, from: layer, to, converted: false };
    } else {
      const input = await fetchBlobToFile(src, layer, work);
      try {
        const blob = await convertTarToFile({ path: input }, opts.format, {
          level: opts.level ?? (opts.format === 'gzip' ? 9 : 3),
          chunkSize: opts.chunkSize ?? 4 << 20,
          workers: opts.workers ?? 0,
          prioritizedFiles: prioritized,
          tmpDir: work,
        });
        local.set(blob.digest, { path: blob.path });
        const mediaType = opts.format === 'gzip' && !oci ? MediaType.dockerLayerGzip : blob.mediaType;
        const { annotations: _old, ...rest } = layer;
        to = { ...rest, mediaType, digest: blob.digest, size: blob.size, annotations: { ...(layer.annotations ?? {}), ...blob.annotations } };
        diffIDs[i] = blob.diffID;
        event = { manifestDigest, index: i, total: manifest.layers.length, from: layer, to, converted: true, uncompressedSize: blob.uncompressedSize, prioritized: (prioritized?.length ?? 0) - blob.missedPrioritizedFiles.length };
      } catch (e) {
        throw withContext(e, `layer ${i + 1} ${layer.digest}`);
      } finally {
        await rm(input, { force: true });
      }
    }
    // Store each layer as soon as it exists, so temp space holds one converted layer at a time.
    await dst.putBlob(to, out);
    const done = local.get(to.digest);
    if (done && 'path' in done) await rm(done.path, { force: true });
    local.delete(to.digest);
    layers.push(to);
    events.push(event);
    opts.onLayer?.(event);
  }

  const newConfig = { ...config, rootfs: { ...config.rootfs, diff_ids: diffIDs } };
  const newConfigBytes = jsonBytes(newConfig);
  const configDesc: Descriptor = { mediaType: oci ? MediaType.ociConfig : manifest.config.mediaType, digest: digestOf(newConfigBytes), size: newConfigBytes.length };
  local.set(configDesc.digest, { bytes: newConfigBytes });
  await dst.putBlob(configDesc, out);

  const mediaType = oci ? MediaType.ociManifest : (manifest.mediaType ?? MediaType.ociManifest);
  const { subject: _s, ...keep } = manifest; // the subject points at the source image, not at this one
  const newManifest = { ...keep, schemaVersion: 2, mediaType, config: configDesc, layers };
  const bytes = jsonBytes(newManifest);
  return { desc: { mediaType, digest: digestOf(bytes), size: bytes.length } as Descriptor, bytes, events };
}

export async function convertImage(src: ImageSource, dst: ImageDestination, opts: ConvertOptions): Promise<ConvertResult> {
  const work = await mkdtemp(join(opts.tmpDir, 'convert-'));
  try {
    const top = await src.top();
    const parsed = parseManifest(top.bytes, top.mediaType, src.name);
    if (parsed.kind === 'manifest') {
      assertImageManifest(parsed.manifest, src.name);
      const m = await convertManifest(src, dst, top.digest, { ...parsed.manifest, mediaType: parsed.mediaType }, opts, work);
      await dst.commit(m.desc, m.bytes);
      return { digest: m.desc.digest, mediaType: m.desc.mediaType, manifests: [{ digest: m.desc.digest, mediaType: m.desc.mediaType, layers: m.events }] };
    }
    const children = opts.all ? parsed.index.manifests : [chooseManifest(parsed.index.manifests, opts.platform ?? hostPlatform(), src.name)];
    const converted: { from: Descriptor; desc: Descriptor; bytes: Uint8Array; events: LayerEvent[] }[] = [];
    for (const desc of children) {
      const bytes = await src.manifest(desc);
      if (digestOf(bytes) !== desc.digest || bytes.length !== desc.size) throw new ImageFormatError(`${src.name}: manifest ${desc.digest} does not match its index entry`);
      const child = parseManifest(bytes, desc.mediaType, `${src.name}@${desc.digest}`);
      if (child.kind !== 'manifest') throw new ImageFormatError(`${src.name}: nested index ${desc.digest} is not supported`);
      assertImageManifest(child.manifest, `${src.name}@${desc.digest}`);
      const m = await convertManifest(src, dst, desc.digest, { ...child.manifest, mediaType: child.mediaType }, opts, work);
      converted.push({ from: desc, ...m });
    }
    const result = (digest: string, mediaType: string) => ({ digest, mediaType, manifests: converted.map((c) => ({ digest: c.desc.digest, mediaType: c.desc.mediaType, layers: c.events })) });
    if (!opts.all) {
      const only = converted[0];
      await dst.commit(only.desc, only.bytes);
      return result(only.desc.digest, only.desc.mediaType);
    }
    for (const c of converted) await dst.putChildManifest(c.desc, c.bytes);
    const oci = opts.oci || parsed.mediaType === MediaType.ociIndex;
    const indexType = oci ? MediaType.ociIndex : parsed.mediaType;
    const index = {
      ...parsed.index,
      schemaVersion: 2,
      mediaType: indexType,
      manifests: converted.map((c) => ({ ...c.from, mediaType: c.desc.mediaType, digest: c.desc.digest, size: c.desc.size })),
    };
    const bytes = jsonBytes(index);
    const desc: Descriptor = { mediaType: indexType, digest: digestOf(bytes), size: bytes.length };
    await dst.commit(desc, bytes);
    return result(desc.digest, indexType);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
