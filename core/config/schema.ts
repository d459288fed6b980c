// The edgebuild config file (TOML), in the spirit of buildkitd.toml. One schema is the single
// source of truth for its shape; the TypeScript type is inferred from it.
import * as v from 'valibot';

export const RegistryHostSchema = v.strictObject({
  /** Mirrors tried in order before the origin: "host[:port]" or "http(s)://host[:port]". */
  mirrors: v.optional(v.array(v.string()), []),
  /** Plain HTTP for this host (also implied for localhost, 127.0.0.0/8 and ::1). */
  http: v.optional(v.boolean(), false),
  /** TLS without certificate verification. */
  insecure: v.optional(v.boolean(), false),
  /** Extra CA certificate files (PEM) trusted for this host. */
  ca: v.optional(v.array(v.string()), []),
});
export type RegistryHostConfig = v.InferOutput<typeof RegistryHostSchema>;

export const WorkerOciSchema = v.strictObject({
  snapshotter: v.optional(v.picklist(['auto', 'overlay', 'native', 'stargz']), 'auto'),
  /** Path of a proxy snapshotter socket (--oci-worker-proxy-snapshotter-path). */
  proxySnapshotterPath: v.optional(v.string()),
  gc: v.optional(v.boolean(), false),
  reservedSpace: v.optional(v.union([v.string(), v.number()])),
  maxUsedSpace: v.optional(v.union([v.string(), v.number()])),
  /** How many blobs are downloaded at once. */
  maxParallelDownloads: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 4),
});

export const ExternalPluginSchema = v.strictObject({ path: v.string() });

export const EdgebuildConfigSchema = v.strictObject({
  root: v.optional(v.string()),
  debug: v.optional(v.boolean(), false),
  registry: v.optional(v.record(v.string(), RegistryHostSchema), {}),
  worker: v.optional(v.strictObject({ oci: v.optional(WorkerOciSchema, {}) }), {}),
  /** `[plugins."kind.id"] enabled = false, …own keys`; `[[plugins.external]] path = "…"`. */
  plugins: v.optional(
    v.looseObject({ external: v.optional(v.array(ExternalPluginSchema), []) }),
    { external: [] },
  ),
});
export type EdgebuildConfig = v.InferOutput<typeof EdgebuildConfigSchema>;
