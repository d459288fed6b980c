// Pushes a built image to each name's repository: blobs the target already has are skipped (HEAD),
// layers that came from another repository of the same registry are mounted from there, the rest
// are uploaded; the manifest goes last, byte for byte as built.
import type { RegistryClient } from '../registry/client.ts';
import { formatReference, parseReference, type Reference } from '../registry/reference.ts';
import type { ContentStore } from '../content/store.ts';
import { imageBlobs, type BuiltBlob, type BuiltImage, type BuiltLayer } from './image-builder.ts';
import type { ExportProgress } from './types.ts';

export interface PushOptions {
  client: RegistryClient;
  /** When the blobs were stored first: uploads read from the store (sized, retryable bodies). */
  store?: ContentStore;
  progress: ExportProgress;
  signal?: AbortSignal;
}

const short = (d: string) => d.slice(0, 19);
const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

/** "host/repo" → repo, when it is on `registry`; otherwise undefined (mounts work within one registry). */
function mountSource(blob: Partial<BuiltLayer>, registry: string): string | undefined {
  const src = blob.sourceRepository;
  if (!src) return undefined;
  try {
    const ref = parseReference(src);
    return ref.registry === registry ? ref.repository : undefined;
  } catch {
    return undefined;
  }
}

async function pushBlob(target: Reference, blob: BuiltBlob, opts: PushOptions, notes: string[]): Promise<void> {
  const { client, progress } = opts;
  const { digest, size } = blob.descriptor;
  if ((await client.blobExists(target, digest)) !== undefined) {
    notes.push(`${short(digest)} already in ${target.repository}`);
    return;
  }
  const from = mountSource(blob, target.registry);
  if (from && from !== target.repository && (await client.mountBlob(target, digest, from))) {
    notes.push(`${short(digest)} mounted from ${from}`);
    return;
  }
  progress.log(`pushing ${short(digest)} ${mb(size)}`);
  const body = opts.store && (await opts.store.has(digest)) ? opts.store.file(digest) : blob.path ? Bun.file(blob.path) : undefined;
  if (body) await client.uploadBlob(target, digest, size, body);
  else {
    // A kept layer not stored locally: stream it from where it lives.
    const stream = await blob.open();
    await client.uploadBlob(target, digest, size, () => stream);
  }
  notes.push(`${short(digest)} uploaded (${mb(size)})`);
}

export async function pushImage(img: BuiltImage, names: string[], opts: PushOptions): Promise<string[]> {
  const notes: string[] = [];
  for (const name of names) {
    const target = parseReference(name);
    for (const blob of imageBlobs(img)) {
      opts.signal?.throwIfAborted();
      await pushBlob(target, blob, opts, notes);
    }
    const { digest, mediaType } = img.manifest.descriptor;
    if (target.digest && target.digest !== digest) {
      throw new Error(`exporter image: name ${name} pins ${target.digest}, but the built manifest is ${digest}`);
    }
    await opts.client.putManifest(target, img.manifest.bytes, mediaType, target.digest ? digest : target.tag);
    notes.push(`pushed ${formatReference(target)} ${digest}`);
    opts.progress.log(`pushed ${formatReference(target)}`);
  }
  return notes;
}
