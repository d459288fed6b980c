// The daemon's HTTP API, as data: request and event shapes shared by client and server, validated
// with valibot at both ends. Routes:
//   GET  /v1/info                                   → Info
//   POST /v1/contexts/:session/:name/manifest       ContextManifest → { missing: string[] }
//   PUT  /v1/contexts/:session/:name/files          tar of the missing files → 204
//   POST /v1/builds                                 BuildBody → NDJSON stream of ProgressEvent | BuildEnd
//   GET  /v1/outputs/:id                            the tar (directory) or file of a client-side output
import * as v from 'valibot';

export const API_VERSION = 1;
export const SESSION_RE = /^[a-f0-9]{16,64}$/;
export const LOCAL_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export const ContextEntrySchema = v.object({
  path: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  type: v.picklist(['file', 'dir', 'symlink']),
  mode: v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(0o7777)),
  size: v.pipe(v.number(), v.integer(), v.minValue(0)),
  mtimeMs: v.number(),
  /** sha256 hex of a file's bytes. */
  hash: v.optional(v.pipe(v.string(), v.regex(/^[a-f0-9]{64}$/))),
  /** A symlink's target. */
  target: v.optional(v.string()),
});
export type ContextEntry = v.InferOutput<typeof ContextEntrySchema>;
export const ContextManifestSchema = v.object({ entries: v.array(ContextEntrySchema) });
export type ContextManifest = v.InferOutput<typeof ContextManifestSchema>;

const CredentialSchema = v.union([
  v.object({ username: v.string(), password: v.string() }),
  v.object({ identityToken: v.string(), username: v.optional(v.string()) }),
]);

const CacheExportSchema = v.variant('type', [
  v.object({ type: v.literal('registry'), ref: v.string(), mode: v.picklist(['min', 'max']), compression: v.string() }),
  v.object({ type: v.literal('local'), dest: v.string(), mode: v.picklist(['min', 'max']), compression: v.string() }),
  v.object({ type: v.literal('inline') }),
]);
const CacheImportSchema = v.variant('type', [v.object({ type: v.literal('registry'), ref: v.string() }), v.object({ type: v.literal('local'), src: v.string() })]);

export const BuildBodySchema = v.object({
  session: v.pipe(v.string(), v.regex(SESSION_RE, 'a hex session id')),
  frontend: v.string(),
  opts: v.record(v.string(), v.string()),
  /** --local names; each was synced under this session first. */
  locals: v.array(v.pipe(v.string(), v.regex(LOCAL_NAME_RE, 'a local name like "context"'))),
  /** id → base64 bytes; kept in memory for this build only. */
  secrets: v.record(v.string(), v.string()),
  outputs: v.array(v.object({ type: v.string(), attrs: v.record(v.string(), v.string()) })),
  noCache: v.boolean(),
  cacheExports: v.array(CacheExportSchema),
  cacheImports: v.array(CacheImportSchema),
  /** Registry host → the client's credential, for this build only. */
  credentials: v.record(v.string(), CredentialSchema),
});
export type BuildBody = v.InferOutput<typeof BuildBodySchema>;

export const ProgressEventSchema = v.variant('type', [
  v.object({ type: v.literal('vertex.started'), id: v.string(), name: v.string(), time: v.number() }),
  v.object({ type: v.literal('vertex.cached'), id: v.string(), name: v.string(), time: v.number() }),
  v.object({ type: v.literal('vertex.log'), id: v.string(), stream: v.picklist([1, 2]), data: v.string(), time: v.number() }),
  v.object({ type: v.literal('vertex.status'), id: v.string(), status: v.string(), current: v.optional(v.number()), total: v.optional(v.number()), time: v.number() }),
  v.object({ type: v.literal('vertex.completed'), id: v.string(), time: v.number() }),
  v.object({ type: v.literal('vertex.error'), id: v.string(), error: v.string(), time: v.number() }),
]);

/** A client-side output the daemon produced: fetch it from /v1/outputs/:id. */
export const OutputRefSchema = v.object({ id: v.string(), index: v.number(), kind: v.picklist(['dir', 'file']) });
export type OutputRef = v.InferOutput<typeof OutputRefSchema>;

export const BuildEndSchema = v.variant('type', [
  v.object({
    type: v.literal('build.done'),
    exports: v.array(v.object({ type: v.string(), digest: v.optional(v.string()), notes: v.array(v.string()) })),
    outputs: v.array(OutputRefSchema),
  }),
  v.object({ type: v.literal('build.failed'), error: v.string() }),
]);
export type BuildEnd = v.InferOutput<typeof BuildEndSchema>;

export const StreamLineSchema = v.union([ProgressEventSchema, BuildEndSchema]);

export const InfoSchema = v.object({ version: v.string(), api: v.number(), snapshotter: v.string(), builds: v.number() });
export type Info = v.InferOutput<typeof InfoSchema>;

/** Outputs whose `dest` is on the client: produced on the daemon, streamed back. */
export const CLIENT_SIDE_OUTPUTS = new Set(['local', 'tar', 'oci', 'docker']);

/** One-line message for a valibot failure: "field: message". */
export function issueLine(issues: v.BaseIssue<unknown>[]): string {
  const i = issues[0];
  const path = (i.path ?? []).map((p) => String(p.key)).join('.');
  return `${path ? `${path}: ` : ''}${i.message}`;
}
