// The files of an OCI image layout (oci-layout, index.json, blobs/sha256/…) holding one image,
// with the reference annotations BuildKit's oci exporter writes.
import type { Descriptor } from './types.ts';
import { MediaType } from '../image/media-types.ts';
import { imageBlobs, type BuiltImage } from './image-builder.ts';
import { bytesFile, type ArchiveFile } from './archive.ts';
import { stableJsonBytes } from './stable-json.ts';
import { formatReference, parseReference } from '../registry/reference.ts';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name';

export const blobPath = (digest: string) => `blobs/${digest.replace(':', '/')}`;

/** Index annotations for `name`: the full name for containerd, the tag for OCI tools (skopeo oci:DIR:tag). */
export function nameAnnotations(name: string): Record<string, string> {
  const ref = parseReference(name);
  return { [CONTAINERD_NAME_ANNOTATION]: formatReference(ref), [REF_NAME_ANNOTATION]: ref.tag ?? ref.digest ?? 'latest' };
}

/** Splits BuildKit's `name=a,b` (already split on the comma by the CLI parser or not). */
export function imageNames(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

/** One index entry per name (none: one entry without annotations), all for the same manifest. */
export function ociLayoutFiles(img: BuiltImage, names: string[]): ArchiveFile[] {
  const entry = (annotations?: Record<string, string>): Descriptor => ({ ...img.manifest.descriptor, ...(annotations ? { annotations } : {}), ...(img.platform ? { platform: img.platform } : {}) });
  const manifests = names.length ? names.map((n) => entry(nameAnnotations(n))) : [entry()];
  const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
  const blobFiles = imageBlobs(img).map((b): ArchiveFile => ({ path: blobPath(b.descriptor.digest), size: b.descriptor.size, digest: b.descriptor.digest, open: b.open }));
  return [
    bytesFile('oci-layout', stableJsonBytes({ imageLayoutVersion: '1.0.0' })),
    bytesFile('index.json', stableJsonBytes(index)),
    ...blobFiles,
    { path: blobPath(img.manifest.descriptor.digest), size: img.manifest.bytes.length, digest: img.manifest.descriptor.digest, open: async () => new Response(img.manifest.bytes).body as ReadableStream<Uint8Array> },
  ];
}
