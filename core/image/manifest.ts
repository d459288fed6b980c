// Decodes manifest bytes into an index or an image manifest, validating with the schemas. The
// media type comes from the registry's Content-Type, else the document's own mediaType field.
import * as v from 'valibot';
import { IndexSchema, ManifestSchema, type ImageIndex, type ImageManifest, type Descriptor } from './schemas.ts';
import { MediaType, isIndexType, isManifestType, isLayerType, CONFIG_TYPES } from './media-types.ts';

export class ImageFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImageFormatError';
  }
}

export type ParsedManifest =
  | { kind: 'index'; mediaType: string; index: ImageIndex }
  | { kind: 'manifest'; mediaType: string; manifest: ImageManifest };

const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream']);

function firstIssue(issues: v.BaseIssue<unknown>[]): string {
  const i = issues[0];
  const path = (i.path ?? []).map((p) => String(p.key)).join('.');
  return `${path ? path + ': ' : ''}${i.message}`;
}

/** `what` names the manifest in errors (e.g. "127.0.0.1:5000/app:1" or "sha256:…"). */
export function parseManifest(bytes: Uint8Array, contentType: string | undefined, what: string): ParsedManifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ImageFormatError(`${what}: manifest is not valid JSON`);
  }
  if (typeof json !== 'object' || json === null) throw new ImageFormatError(`${what}: manifest is not a JSON object`);
  const doc = json as Record<string, unknown>;
  const header = (contentType ?? '').split(';')[0].trim().toLowerCase();
  let mediaType = GENERIC_TYPES.has(header) ? (typeof doc.mediaType === 'string' ? doc.mediaType : '') : header;
  if (!mediaType) {
    // OCI allows omitting mediaType; the shape decides.
    if (Array.isArray(doc.manifests)) mediaType = MediaType.ociIndex;
    else if (doc.config && Array.isArray(doc.layers)) mediaType = MediaType.ociManifest;
    else if (doc.schemaVersion === 1) mediaType = MediaType.dockerSchema1;
  }
  if (isIndexType(mediaType)) {
    const r = v.safeParse(IndexSchema, json);
    if (!r.success) throw new ImageFormatError(`${what}: invalid ${mediaType}: ${firstIssue(r.issues)}`);
    return { kind: 'index', mediaType, index: r.output };
  }
  if (isManifestType(mediaType)) {
    const r = v.safeParse(ManifestSchema, json);
    if (!r.success) throw new ImageFormatError(`${what}: invalid ${mediaType}: ${firstIssue(r.issues)}`);
    return { kind: 'manifest', mediaType, manifest: r.output };
  }
  throw new ImageFormatError(`${what}: unsupported manifest media type ${JSON.stringify(mediaType || header || '(none)')}`);
}

/** Checks that an image manifest describes a runnable image: known config and layer types. */
export function assertImageManifest(manifest: ImageManifest, what: string): void {
  if (!CONFIG_TYPES.includes(manifest.config.mediaType)) {
    throw new ImageFormatError(`${what}: unsupported config media type ${JSON.stringify(manifest.config.mediaType)}`);
  }
  for (const layer of manifest.layers) {
    if (!isLayerType(layer.mediaType)) {
      throw new ImageFormatError(`${what}: unsupported layer media type ${JSON.stringify(layer.mediaType)} (layer ${layer.digest})`);
    }
  }
}

/** Every blob an image manifest points at, config first. */
export function manifestBlobs(manifest: ImageManifest): Descriptor[] {
  return [manifest.config, ...manifest.layers];
}
