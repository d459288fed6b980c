// Serialise a TOC the way the reference does (Go json.MarshalIndent with a tab, fields in struct
// order, zero values omitted, HTML characters escaped), so TOC digests are comparable.

/** One TOC entry to write. Zero/empty fields are omitted from the JSON. */
export interface TocEntryOut {
  name: string;
  type: string;
  size?: number;
  modtime?: string;
  linkName?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  userName?: string;
  groupName?: string;
  offset?: number;
  devMajor?: number;
  devMinor?: number;
  /** xattr name → base64 of the value bytes. */
  xattrs?: Record<string, string>;
  digest?: string;
  chunkOffset?: number;
  chunkSize?: number;
  chunkDigest?: string;
  innerOffset?: number;
}

const FIELD_ORDER: (keyof TocEntryOut)[] = [
  "name", "type", "size", "modtime", "linkName", "mode", "uid", "gid", "userName", "groupName", "offset",
  "devMajor", "devMinor", "xattrs", "digest", "chunkOffset", "chunkSize", "chunkDigest", "innerOffset",
];

function ordered(e: TocEntryOut): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of FIELD_ORDER) {
    const v = e[k];
    if (k === "name" || k === "type") out[k] = v;
    else if (k === "xattrs") {
      const x = v as Record<string, string> | undefined;
      if (x && Object.keys(x).length > 0) out[k] = Object.fromEntries(Object.keys(x).sort().map((n) => [n, x[n]]));
    } else if (v !== undefined && v !== 0 && v !== "") out[k] = v;
  }
  return out;
}

/** The TOC JSON bytes (these are what the TOC digest covers). */
export function marshalToc(entries: TocEntryOut[], version = 1): Uint8Array {
  const json = JSON.stringify({ version, entries: entries.map(ordered) }, null, "\t")
    .replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  return new TextEncoder().encode(json);
}

/** RFC 3339 in whole seconds, UTC, "" for the zero time / the epoch (Go's formatModtime). */
export function formatModtime(seconds: number): string {
  const s = Math.round(seconds);
  if (s === 0 || !Number.isFinite(s)) return "";
  return new Date(s * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
