// Puts a built image into the local content store (blobs, config, manifest) and records each name
// as pointing at its manifest, as BuildKit's image exporter does with store=true.
import type { ContentStore } from '../content/store.ts';
import type { ImageStore } from '../content/images.ts';
import { formatReference, parseReference } from '../registry/reference.ts';
import { hostPlatform } from '../image/platform.ts';
import { imageBlobs, type BuiltBlob, type BuiltImage } from './image-builder.ts';
import type { ExportProgress } from './types.ts';

/** The blob's bytes from `offset` (the store resumes an interrupted copy from where it stopped). */
async function openAt(blob: BuiltBlob, offset: number): Promise<ReadableStream<Uint8Array>> {
  const s = await blob.open();
  if (offset === 0) return s;
  let left = offset;
  return s.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        if (left >= chunk.length) {
          left -= chunk.length;
          return;
        }
        ctl.enqueue(chunk.subarray(left));
        left = 0;
      },
    }),
  );
}

/** Stores every blob; returns how many were new. */
export async function storeBlobs(img: BuiltImage, store: ContentStore, progress: ExportProgress, signal?: AbortSignal): Promise<number> {
  let added = 0;
  let remote = 0;
  // Base layers kept as they are and not in the store stay in their registry (a lazily pulled
  // eStargz base must not be downloaded in full just to record the image locally).
  const remoteOnly = new Set<string>();
  for (const l of img.layers) if (l.reused && l.sourceRepository && !(await store.has(l.descriptor.digest))) remoteOnly.add(l.descriptor.digest);
  for (const b of imageBlobs(img)) {
    signal?.throwIfAborted();
    if (remoteOnly.has(b.descriptor.digest)) {
      remote++;
      continue;
    }
    if (await store.ingest({ digest: b.descriptor.digest, size: b.descriptor.size }, (off) => openAt(b, off), { signal })) added++;
  }
  await store.put(img.manifest.bytes, img.manifest.descriptor.digest);
  progress.log(`stored ${added} new blob(s) and manifest ${img.manifest.descriptor.digest}${remote ? `; ${remote} base layer(s) left in their registry` : ''}`);
  return added;
}

/** Points each name at the manifest (atomic per name). */
export async function recordNames(img: BuiltImage, names: string[], images: ImageStore): Promise<string[]> {
  const refs: string[] = [];
  const platform = img.platform ?? hostPlatform();
  for (const name of names) {
    const ref = formatReference(parseReference(name));
    await images.put({ ref, manifest: img.manifest.descriptor, platform, updated: new Date().toISOString() });
    refs.push(ref);
  }
  return refs;
}
