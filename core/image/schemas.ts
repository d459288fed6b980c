// valibot schemas for OCI index/manifest/config and Docker schema2 manifest list/manifest. Parsed
// at the boundary (registry responses, layout files); types are inferred from these schemas.
import * as v from 'valibot';

const DIGEST_RE = /^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
export const DigestSchema = v.pipe(v.string(), v.regex(DIGEST_RE, 'a digest like sha256:<hex>'));

const Annotations = v.optional(v.record(v.string(), v.string()));

export const PlatformSchema = v.object({
  architecture: v.string(),
  os: v.string(),
  'os.version': v.optional(v.string()),
  'os.features': v.optional(v.array(v.string())),
  variant: v.optional(v.string()),
});
export type PlatformJson = v.InferOutput<typeof PlatformSchema>;

export const DescriptorSchema = v.object({
  mediaType: v.string(),
  digest: DigestSchema,
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  urls: v.optional(v.array(v.string())),
  annotations: Annotations,
  platform: v.optional(PlatformSchema),
  artifactType: v.optional(v.string()),
});
export type Descriptor = v.InferOutput<typeof DescriptorSchema>;

/** OCI image index and Docker manifest list share one shape. */
export const IndexSchema = v.object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(v.string()),
  artifactType: v.optional(v.string()),
  manifests: v.array(DescriptorSchema),
  subject: v.optional(DescriptorSchema),
  annotations: Annotations,
});
export type ImageIndex = v.InferOutput<typeof IndexSchema>;

/** OCI image manifest and Docker schema2 manifest share one shape. */
export const ManifestSchema = v.object({
  schemaVersion: v.literal(2),
  mediaType: v.optional(v.string()),
  artifactType: v.optional(v.string()),
  config: DescriptorSchema,
  layers: v.array(DescriptorSchema),
  subject: v.optional(DescriptorSchema),
  annotations: Annotations,
});
export type ImageManifest = v.InferOutput<typeof ManifestSchema>;

const StringMap = v.optional(v.nullable(v.record(v.string(), v.unknown())));
const StringList = v.optional(v.nullable(v.array(v.string())));

export const ImageConfigSchema = v.object({
  created: v.optional(v.string()),
  author: v.optional(v.string()),
  architecture: v.string(),
  os: v.string(),
  'os.version': v.optional(v.string()),
  variant: v.optional(v.string()),
  config: v.optional(
    v.nullable(
      v.object({
        User: v.optional(v.string()),
        ExposedPorts: StringMap,
        Env: StringList,
        Entrypoint: StringList,
        Cmd: StringList,
        Volumes: StringMap,
        WorkingDir: v.optional(v.string()),
        Labels: v.optional(v.nullable(v.record(v.string(), v.string()))),
        StopSignal: v.optional(v.string()),
      }),
    ),
  ),
  rootfs: v.object({ type: v.string(), diff_ids: v.array(DigestSchema) }),
  history: v.optional(
    v.array(
      v.object({
        created: v.optional(v.string()),
        created_by: v.optional(v.string()),
        author: v.optional(v.string()),
        comment: v.optional(v.string()),
        empty_layer: v.optional(v.boolean()),
      }),
    ),
  ),
});
export type ImageConfig = v.InferOutput<typeof ImageConfigSchema>;

/** `oci-layout` file of an OCI image layout directory. */
export const OciLayoutFileSchema = v.object({ imageLayoutVersion: v.string() });
