// Cache export: the steps of a build (mode=max) or of its final result (mode=min) become a cache
// config plus step layer blobs, pushed to a registry as one OCI manifest or written to an OCI
// layout directory. Base image layers are referenced by their repository, not copied.
import type { RegistryClient } from '../registry/client.ts';
import { parseReference } from '../registry/reference.ts';
import type { ContentStore } from '../content/store.ts';
import { MediaType } from '../image/media-types.ts';
import { OciLayout } from '../image/oci-layout.ts';
import { stableJsonBytes } from '../export/stable-json.ts';
import { digestOf } from '../content/digest.ts';
import type { Descriptor } from '../export/types.ts';
import type { LayerRecord } from '../solver/worker.ts';
import type { SolvedStep } from '../solver/solver.ts';
import { CACHE_ARTIFACT_TYPE, CACHE_CONFIG_MEDIA_TYPE, type CacheConfig, type CacheLayer, type InlineCache } from './format.ts';
import type { CacheExportSpec } from './spec.ts';
import { stepBlob, type LayerBlobDeps } from './layer-blobs.ts';

export interface CacheExportDeps extends LayerBlobDeps {
  client: RegistryClient;
  log?: (line: string) => void;
  signal?: AbortSignal;
}

const sameLayer = (a: LayerRecord, b: LayerRecord) => (a.existing && b.existing ? a.existing.descriptor.digest === b.existing.descriptor.digest : a.snapshot === b.snapshot);

/** Steps whose chain is a prefix of the final result's chain (mode=min and inline), or all. */
export function selectSteps(steps: SolvedStep[], final: LayerRecord[], mode: 'min' | 'max'): SolvedStep[] {
  const byKey = new Map<string, SolvedStep>();
  for (const s of steps) {
    if (s.layers.length === 0) continue;
    if (mode === 'min' && (s.layers.length > final.length || !s.layers.every((l, i) => sameLayer(l, final[i])))) continue;
    byKey.set(s.key, s);
  }
  return [...byKey.values()];
}

/** Inline cache for the image config: key → number of the image's layers that make its result. */
export function inlineCache(steps: SolvedStep[], final: LayerRecord[]): InlineCache {
  return { records: selectSteps(steps, final, 'min').map((s) => ({ key: s.key, layers: s.layers.length })).sort((a, b) => a.layers - b.layers || a.key.localeCompare(b.key)) };
}

interface BuiltCache {
  config: CacheConfig;
  /** Step blobs the manifest lists (they travel with the cache). */
  blobs: Descriptor[];
}

async function buildCache(steps: SolvedStep[], compression: string, deps: CacheExportDeps): Promise<BuiltCache> {
  const layers: CacheLayer[] = [];
  const index = new Map<string, number>(); // snapshot or base blob digest → position in layers
  const blobs: Descriptor[] = [];
  const records: CacheConfig['records'] = [];
  for (const step of steps) {
    const chain: number[] = [];
    for (const l of step.layers) {
      const id = l.existing ? `blob:${l.existing.descriptor.digest}` : `snap:${l.snapshot}`;
      let at = index.get(id);
      if (at === undefined) {
        deps.signal?.throwIfAborted();
        if (l.existing) {
          if (!l.diffID) throw new Error(`cache export: layer ${l.existing.descriptor.digest} of ${l.existing.imageRef} has no diffID`);
          layers.push({ blob: l.existing.descriptor, diffID: l.diffID, source: l.existing.repository, imageRef: l.existing.imageRef, createdBy: l.createdBy });
        } else {
          const b = await stepBlob(l, compression, deps);
          layers.push({ blob: b.descriptor, diffID: b.diffID, createdBy: l.createdBy });
          if (!blobs.some((x) => x.digest === b.descriptor.digest)) blobs.push(b.descriptor);
        }
        at = layers.length - 1;
        index.set(id, at);
      }
      chain.push(at);
    }
    records.push({ key: step.key, chain, description: step.description });
  }
  return { config: { version: 1, layers, records }, blobs };
}

function manifestFor(configDesc: Descriptor, blobs: Descriptor[]): Uint8Array {
  return stableJsonBytes({ schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: CACHE_ARTIFACT_TYPE, config: configDesc, layers: blobs });
}

/** Exports the cache; returns one note line per export. */
export async function exportCache(spec: Exclude<CacheExportSpec, { type: 'inline' }>, steps: SolvedStep[], final: LayerRecord[], deps: CacheExportDeps): Promise<string> {
  const chosen = selectSteps(steps, final, spec.mode);
  const { config, blobs } = await buildCache(chosen, spec.compression, deps);
  const configBytes = stableJsonBytes(config);
  const configDesc: Descriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(configBytes), size: configBytes.length };
  const manifest = manifestFor(configDesc, blobs);
  const size = blobs.reduce((n, b) => n + b.size, 0);
  if (spec.type === 'registry') {
    const target = parseReference(spec.ref);
    for (const b of blobs) {
      deps.signal?.throwIfAborted();
      if ((await deps.client.blobExists(target, b.digest)) !== undefined) continue;
      deps.log?.(`pushing cache layer ${b.digest.slice(0, 19)} (${b.size} bytes)`);
      await deps.client.uploadBlob(target, b.digest, b.size, deps.store.file(b.digest));
    }
    if ((await deps.client.blobExists(target, configDesc.digest)) === undefined) await deps.client.uploadBlob(target, configDesc.digest, configDesc.size, configBytes);
    const digest = await deps.client.putManifest(target, manifest, MediaType.ociManifest);
    return `cache exported to ${spec.ref} (mode=${spec.mode}): ${config.records.length} steps, ${blobs.length} layers, ${size} bytes, manifest ${digest}`;
  }
  const layout = new OciLayout(spec.dest);
  layout.init();
  for (const b of blobs) if (!layout.hasBlob(b.digest, b.size)) await layout.writeBlob(b, deps.store.file(b.digest).stream() as unknown as AsyncIterable<Uint8Array>);
  await layout.writeBlob(configDesc, [configBytes]);
  const mdesc: Descriptor = { mediaType: MediaType.ociManifest, digest: digestOf(manifest), size: manifest.length };
  await layout.writeBlob(mdesc, [manifest]);
  await layout.setRef({ ...mdesc, artifactType: CACHE_ARTIFACT_TYPE } as Descriptor, 'latest');
  return `cache exported to ${spec.dest} (mode=${spec.mode}): ${config.records.length} steps, ${blobs.length} layers, ${size} bytes`;
}
