// The build cache as it travels through a registry or an OCI layout: an OCI image manifest whose
// layers are the step layer blobs and whose config blob maps cache keys to layer chains. Base image
// layers are not copied; the config names the repository they already live in. This is
// edgebuild's own format (not BuildKit's cache config), documented in the shape below.
import * as v from 'valibot';
import { DescriptorSchema, DigestSchema } from '../image/schemas.ts';

export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.edgebuild.cache.config.v1+json';
export const CACHE_ARTIFACT_TYPE = 'application/vnd.edgebuild.cache.v1';
/** Key in an image config holding inline cache (`--export-cache type=inline`). */
export const INLINE_CACHE_KEY = 'edgebuild.cache.v1';

export const CacheLayerSchema = v.object({
  /** The compressed blob. */
  blob: DescriptorSchema,
  diffID: DigestSchema,
  /** "host/repo" the blob lives in when it is not one of the cache manifest's own layers. */
  source: v.optional(v.string()),
  /** Image reference the blob belongs to (base image layers), for logs. */
  imageRef: v.optional(v.string()),
  createdBy: v.optional(v.string()),
});
export type CacheLayer = v.InferOutput<typeof CacheLayerSchema>;

export const CacheRecordSchema = v.object({
  key: DigestSchema,
  /** Indexes into `layers`, bottom first: the layer chain of this step's result. */
  chain: v.array(v.pipe(v.number(), v.integer(), v.minValue(0))),
  description: v.optional(v.string()),
});

export const CacheConfigSchema = v.object({
  version: v.literal(1),
  layers: v.array(CacheLayerSchema),
  records: v.array(CacheRecordSchema),
});
export type CacheConfig = v.InferOutput<typeof CacheConfigSchema>;

/** Inline cache inside an image config: key → how many of the image's layers its result is. */
export const InlineCacheSchema = v.object({
  records: v.array(v.object({ key: DigestSchema, layers: v.pipe(v.number(), v.integer(), v.minValue(0)) })),
});
export type InlineCache = v.InferOutput<typeof InlineCacheSchema>;

/** Parses untrusted JSON against a schema; errors name `where` and the first bad field. */
export function parseJson<T extends v.GenericSchema>(schema: T, bytes: Uint8Array | string, where: string): v.InferOutput<T> {
  let json: unknown;
  try {
    json = JSON.parse(typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes));
  } catch {
    throw new Error(`${where}: invalid JSON`);
  }
  const r = v.safeParse(schema, json);
  if (!r.success) {
    const i = r.issues[0];
    const path = (i.path ?? []).map((p) => String(p.key)).join('.');
    throw new Error(`${where}: ${path ? `${path}: ` : ''}${i.message}`);
  }
  return r.output;
}
