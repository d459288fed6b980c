// Pulls one platform of an image into the content store: manifest(s), config and every layer,
// each verified, layers in parallel. The image record is written last; on failure the blobs this
// pull added are removed again, so a failed pull leaves the store as it found it.
import type { RegistryClient } from '../registry/client.ts';
import { familiarName, formatReference, parseReference, type Reference } from '../registry/reference.ts';
import { mapLimit } from '../registry/limit.ts';
import type { ContentStore } from '../content/store.ts';
import type { ImageStore, ImageRecord } from '../content/images.ts';
import { resolveImage, checkConfigPlatform } from './resolve.ts';
import { parseImageConfig } from './config.ts';
import { hostPlatform, type Platform } from './platform.ts';
import type { Descriptor, ImageConfig, ImageManifest } from './schemas.ts';
import { withContext } from './errors.ts';

export { withContext };

export type PullEvent =
  | { type: 'resolved'; ref: string; digest: string; blobs: Descriptor[] }
  | { type: 'blob'; digest: string; done: number; total: number; state: 'downloading' | 'done' | 'exists' };

export interface PullOptions {
  client: RegistryClient;
  store: ContentStore;
  images: ImageStore;
  /** Defaults to the host's platform. */
  platform?: Platform;
  concurrency?: number;
  onEvent?: (e: PullEvent) => void;
  signal?: AbortSignal;
}

export interface PullResult {
  record: ImageRecord;
  manifest: ImageManifest;
  config: ImageConfig;
  /** Blobs downloaded by this pull and bytes they hold (already-present blobs excluded). */
  fetched: { blobs: number; bytes: number };
}

export async function pullImage(refInput: string | Reference, opts: PullOptions): Promise<PullResult> {
  const ref = typeof refInput === 'string' ? parseReference(refInput) : refInput;
  const name = familiarName(ref);
  const created: string[] = [];
  const { store } = opts;
  // The first failed blob stops the others, so a doomed pull does not keep downloading.
  const stop = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, stop.signal]) : stop.signal;
  try {
    const want = opts.platform ?? hostPlatform();
    const resolved = await resolveImage(opts.client, ref, want);
    const blobs = [resolved.manifest.config, ...resolved.manifest.layers];
    opts.onEvent?.({ type: 'resolved', ref: name, digest: resolved.manifestDesc.digest, blobs });
    let fetchedBytes = 0;
    await mapLimit(blobs, opts.concurrency ?? 4, async (desc) => {
      try {
        await fetchOne(desc);
      } catch (e) {
        stop.abort(e);
        throw e;
      }
    });
    async function fetchOne(desc: Descriptor) {
      if (await store.has(desc.digest)) {
        opts.onEvent?.({ type: 'blob', digest: desc.digest, done: desc.size, total: desc.size, state: 'exists' });
        return;
      }
      const made = await store.ingest(desc, (offset) => opts.client.openBlob(ref, desc.digest, offset), {
        signal,
        onProgress: (done) => opts.onEvent?.({ type: 'blob', digest: desc.digest, done, total: desc.size, state: 'downloading' }),
      });
      if (made) {
        created.push(desc.digest);
        fetchedBytes += desc.size;
      }
      opts.onEvent?.({ type: 'blob', digest: desc.digest, done: desc.size, total: desc.size, state: 'done' });
    }
    const config = parseImageConfig(await store.read(resolved.manifest.config.digest), resolved.manifest.config.digest);
    const platform = resolved.index ? resolved.platform : checkConfigPlatform(name, want, config, opts.platform !== undefined);
    // Manifests go in after their blobs, so a present manifest implies a complete image.
    for (const m of [{ d: resolved.manifestDesc, b: resolved.manifestBytes }, ...(resolved.index ? [{ d: resolved.index.desc, b: resolved.index.bytes }] : [])]) {
      if (!(await store.has(m.d.digest))) {
        await store.put(m.b, m.d.digest);
        created.push(m.d.digest);
      }
    }
    const { platform: _p, ...manifestDesc } = resolved.manifestDesc;
    const record: ImageRecord = {
      ref: formatReference(ref),
      manifest: manifestDesc,
      index: resolved.index?.desc,
      platform,
      updated: new Date().toISOString(),
    };
    await opts.images.put(record);
    return { record, manifest: resolved.manifest, config, fetched: { blobs: created.length, bytes: fetchedBytes } };
  } catch (e) {
    for (const d of created) await store.delete(d).catch(() => {});
    throw withContext(e, `pull ${name}`, name);
  }
}
