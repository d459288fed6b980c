// The TOC (stargz.index.json): a valibot schema for the JSON as the reference writes it, and the
// normalisation a reader needs on top (clean names, carry user/group names forward, fold chunk
// entries into their file, compute each chunk's compressed span). Everything a hostile blob could
// get wrong is rejected here, with the layer digest and entry name in the message.
import * as v from "valibot";
import { EstargzError } from "./errors.ts";
import { cleanEntryName, parentOf } from "./names.ts";

const uint = v.pipe(v.number(), v.integer(), v.minValue(0));
const digestString = v.pipe(v.string(), v.regex(/^sha256:[0-9a-f]{64}$/, "expected a sha256 digest"));

export const FILE_TYPES = ["dir", "reg", "symlink", "hardlink", "char", "block", "fifo"] as const;
export type FileType = (typeof FILE_TYPES)[number];

/** One TOC entry as stored. Unknown keys (legacy CRFS `NumLink`, future fields) are dropped. */
export const TocEntrySchema = v.object({
  name: v.string(),
  type: v.picklist([...FILE_TYPES, "chunk"]),
  size: v.optional(uint),
  modtime: v.optional(v.string()),
  linkName: v.optional(v.string()),
  mode: v.optional(uint),
  uid: v.optional(uint),
  gid: v.optional(uint),
  userName: v.optional(v.string()),
  groupName: v.optional(v.string()),
  offset: v.optional(uint),
  devMajor: v.optional(uint),
  devMinor: v.optional(uint),
  xattrs: v.optional(v.record(v.string(), v.string())),
  digest: v.optional(digestString),
  chunkOffset: v.optional(uint),
  chunkSize: v.optional(uint),
  chunkDigest: v.optional(digestString),
  innerOffset: v.optional(uint),
});
export type TocEntryJson = v.InferOutput<typeof TocEntrySchema>;

export const TocSchema = v.object({
  version: v.pipe(v.number(), v.integer()),
  entries: v.array(TocEntrySchema),
});
export type TocJson = v.InferOutput<typeof TocSchema>;

/** One piece of a regular file's data and where its compressed bytes live in the blob. */
export interface TocChunk {
  /** Offset of this chunk inside the file. */
  chunkOffset: number;
  chunkSize: number;
  /** Blob offset of the gzip member / zstd frame holding the chunk. */
  offset: number;
  /** Blob offset where that compressed span ends (next larger data offset, or the TOC). */
  compressedEnd: number;
  /** Offset of the chunk's bytes inside the decompressed span (0 unless several files share it). */
  innerOffset: number;
  chunkDigest: string | undefined;
}

/** A file as a filesystem sees it: everything decoded, chunks folded in. */
export interface TocFile {
  /** Cleaned name, "" for the root directory. */
  name: string;
  type: FileType;
  size: number;
  /** Permission bits (mode & 07777); `rawMode` keeps any file-type bits the tar header carried. */
  mode: number;
  rawMode: number;
  uid: number;
  gid: number;
  userName: string;
  groupName: string;
  /** Seconds since the epoch, undefined when the TOC has no modtime. */
  mtime: number | undefined;
  /** Symlink target as stored; hardlink target cleaned. */
  linkName: string;
  xattrs: Record<string, Uint8Array>;
  devMajor: number;
  devMinor: number;
  /** sha256 of the whole file content (regular files). */
  digest: string | undefined;
  chunks: TocChunk[];
  /** Index of this file's (first) entry in the TOC's entries array. */
  tocIndex: number;
}

export interface ParsedToc {
  version: number;
  files: TocFile[];
  /** Files by cleaned name. */
  byName: Map<string, TocFile>;
}

export interface TocContext {
  layerDigest: string;
  /** End of the compressed payload (the TOC's offset): no chunk may start at or beyond it. */
  payloadEnd: number;
}

/** Parse and validate TOC JSON bytes. Throws EstargzError naming the layer and entry. */
export function parseToc(json: Uint8Array, ctx: TocContext): ParsedToc {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
  } catch (e) {
    throw new EstargzError(ctx.layerDigest, undefined, `TOC is not valid JSON: ${(e as Error).message}`);
  }
  // The common case is checked in place; valibot's checked copy of every entry (~10 MB for a
  // 13.7k-entry TOC) is made only to describe what is wrong, or for what the quick check refuses.
  if (isPlainToc(raw)) return normalizeToc(raw, ctx);
  const parsed = v.safeParse(TocSchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const keys = (issue.path ?? []).map((p) => p.key);
    let entry: string | undefined;
    if (keys[0] === "entries" && typeof keys[1] === "number") {
      const bad = (raw as { entries: unknown[] }).entries[keys[1]] as { name?: unknown } | undefined;
      entry = typeof bad?.name === "string" ? bad.name : `#${keys[1]}`;
    }
    const field = keys.slice(entry === undefined ? 0 : 2).join(".");
    throw new EstargzError(ctx.layerDigest, entry, `TOC schema violation${field ? ` at ${field}` : ""}: ${issue.message}`);
  }
  return normalizeToc(parsed.output, ctx);
}

const UINT_FIELDS = ["size", "mode", "uid", "gid", "offset", "devMajor", "devMinor", "chunkOffset", "chunkSize", "innerOffset"] as const;
const STRING_FIELDS = ["modtime", "linkName", "userName", "groupName"] as const;
const ENTRY_TYPES: ReadonlySet<unknown> = new Set([...FILE_TYPES, "chunk"]);
const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Keys a record may drop or treat specially (left to valibot). */
const ODD_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * True when `raw` is a TOC TocSchema accepts as it is (a stricter, copy-free check: anything it
 * does not vouch for goes through valibot). Unknown keys are left in place: normalizeToc reads
 * only the schema's fields.
 */
function isPlainToc(raw: unknown): raw is TocJson {
  if (typeof raw !== "object" || raw === null) return false;
  const { version, entries } = raw as { version?: unknown; entries?: unknown };
  if (typeof version !== "number" || !Number.isInteger(version) || !Array.isArray(entries)) return false;
  for (const e of entries as Record<string, unknown>[]) {
    if (typeof e !== "object" || e === null || Array.isArray(e)) return false;
    if (typeof e.name !== "string" || !ENTRY_TYPES.has(e.type)) return false;
    for (const k of UINT_FIELDS) {
      const n = e[k];
      if (n !== undefined && (typeof n !== "number" || !Number.isInteger(n) || n < 0)) return false;
    }
    for (const k of STRING_FIELDS) if (e[k] !== undefined && typeof e[k] !== "string") return false;
    if (e.digest !== undefined && (typeof e.digest !== "string" || !DIGEST.test(e.digest))) return false;
    if (e.chunkDigest !== undefined && (typeof e.chunkDigest !== "string" || !DIGEST.test(e.chunkDigest))) return false;
    const x = e.xattrs;
    if (x !== undefined) {
      if (typeof x !== "object" || x === null || Array.isArray(x) || Object.getPrototypeOf(x) !== Object.prototype) return false;
      for (const k in x) if (ODD_KEYS.has(k) || typeof (x as Record<string, unknown>)[k] !== "string") return false;
    }
  }
  return true;
}

function decodeBase64(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(s, "base64"));
}

function parseModtime(s: string): number | undefined {
  // RFC 3339 as Go writes it; Date.parse accepts a superset, so check the shape first.
  if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(s)) return undefined;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/** Shared by every entry without xattrs (most of them). */
const NO_XATTRS: Record<string, Uint8Array> = Object.freeze({}) as Record<string, Uint8Array>;

/** Validate the typed TOC and build the file list. Exported for callers that already hold a TocJson. */
export function normalizeToc(toc: TocJson, ctx: TocContext): ParsedToc {
  const fail = (entry: string | undefined, detail: string): never => {
    throw new EstargzError(ctx.layerDigest, entry, detail);
  };
  const files: TocFile[] = [];
  const byName = new Map<string, TocFile>();
  const userNames = new Map<number, string>();
  const groupNames = new Map<number, string>();
  // Chunks in TOC order, for computing compressed spans once all offsets are known.
  const dataChunks: { chunk: TocChunk; file: TocFile }[] = [];
  let current: TocFile | undefined; // the file that "chunk" entries continue
  let lastOffset = 0;

  const addChunk = (file: TocFile, e: TocEntryJson, chunkSize: number) => {
    const offset = e.offset ?? 0;
    if (offset >= ctx.payloadEnd) fail(file.name, `data offset ${offset} is beyond the compressed payload (${ctx.payloadEnd} bytes)`);
    if (offset < lastOffset) fail(file.name, `data offset ${offset} goes backwards (previous ${lastOffset})`);
    lastOffset = offset;
    const chunk: TocChunk = {
      chunkOffset: e.chunkOffset ?? 0,
      chunkSize,
      offset,
      compressedEnd: ctx.payloadEnd,
      innerOffset: e.innerOffset ?? 0,
      chunkDigest: e.chunkDigest,
    };
    file.chunks.push(chunk);
    dataChunks.push({ chunk, file });
  };

  toc.entries.forEach((e, index) => {
    const cleaned = cleanEntryName(e.name);
    if ("problem" in cleaned) return fail(e.name, cleaned.problem);
    const name = cleaned.name;

    if (e.type === "chunk") {
      if (!current || (name !== "" && name !== current.name)) fail(e.name, "chunk entry does not follow its regular file");
      const file = current!;
      const chunkOffset = e.chunkOffset ?? 0;
      if (chunkOffset >= file.size) fail(file.name, `chunk offset ${chunkOffset} is beyond the file size ${file.size}`);
      addChunk(file, e, e.chunkSize || file.size - chunkOffset);
      return;
    }

    if (byName.has(name)) fail(name, "duplicate entry in TOC");
    if (name === "" && e.type !== "dir") fail(e.name, "the root entry must be a directory");
    const uid = e.uid ?? 0;
    const gid = e.gid ?? 0;
    // One string per owner name, not one per entry (a lazy layer keeps its TOC while mounted).
    if (e.userName && userNames.get(uid) !== e.userName) userNames.set(uid, e.userName);
    if (e.groupName && groupNames.get(gid) !== e.groupName) groupNames.set(gid, e.groupName);
    let mtime: number | undefined;
    if (e.modtime !== undefined) {
      mtime = parseModtime(e.modtime);
      if (mtime === undefined) fail(name, `modtime ${JSON.stringify(e.modtime)} is not RFC 3339`);
    }
    const xattrs: Record<string, Uint8Array> = e.xattrs && Object.keys(e.xattrs).length ? {} : NO_XATTRS;
    for (const [k, b64] of Object.entries(e.xattrs ?? {})) {
      const bytes = decodeBase64(b64);
      if (!bytes) fail(name, `xattr ${JSON.stringify(k)} is not valid base64`);
      xattrs[k] = bytes!;
    }
    let linkName = e.linkName ?? "";
    if (e.type === "hardlink") {
      const target = cleanEntryName(linkName);
      if ("problem" in target) fail(name, `hardlink target ${JSON.stringify(linkName)}: ${target.problem}`);
      linkName = (target as { name: string }).name;
    }
    const size = e.type === "reg" ? (e.size ?? 0) : 0;
    const rawMode = e.mode ?? 0;
    const file: TocFile = {
      name,
      type: e.type,
      size,
      mode: rawMode & 0o7777,
      rawMode,
      uid,
      gid,
      userName: userNames.get(uid) ?? "",
      groupName: groupNames.get(gid) ?? "",
      mtime,
      linkName,
      xattrs,
      devMajor: e.devMajor ?? 0,
      devMinor: e.devMinor ?? 0,
      digest: e.digest,
      chunks: [],
      tocIndex: index,
    };
    files.push(file);
    byName.set(name, file);
    current = undefined;
    if (e.type === "reg") {
      current = file;
      if (size > 0) {
        if ((e.chunkOffset ?? 0) !== 0) fail(name, "first chunk of a file must start at offset 0");
        addChunk(file, e, e.chunkSize || size);
      }
    }
  });

  for (const file of files) {
    let expect = 0;
    for (const c of file.chunks) {
      if (c.chunkOffset !== expect) fail(file.name, `chunk at ${c.chunkOffset} does not continue the previous one (expected ${expect})`);
      expect = c.chunkOffset + c.chunkSize;
    }
    if (expect !== file.size) fail(file.name, `chunks cover ${expect} bytes but the file size is ${file.size}`);
    // A one-chunk file's chunk digest is its digest: keep one string.
    if (file.chunks.length === 1 && file.chunks[0].chunkDigest === file.digest) file.chunks[0].chunkDigest = file.digest;
    if (file.type === "hardlink") {
      let target = byName.get(file.linkName);
      for (let hops = 0; target?.type === "hardlink" && hops < files.length; hops++) target = byName.get(target.linkName);
      if (!target || target.type === "hardlink") fail(file.name, `hardlink target ${JSON.stringify(file.linkName)} is not in the TOC`);
      if (target!.type === "dir") fail(file.name, `hardlink to directory ${JSON.stringify(file.linkName)}`);
    }
    // A path must not run through a file or symlink: that is how layers write outside their tree.
    if (file.name !== "") {
      const parent = byName.get(parentOf(file.name));
      if (parent && parent.type !== "dir") fail(file.name, `parent ${JSON.stringify(parent.name)} is a ${parent.type}, not a directory`);
    }
  }

  // A chunk's compressed span ends where the next chunk with a larger offset starts; chunks sharing
  // an offset (innerOffset packing) share the span.
  let nextOffset = ctx.payloadEnd;
  let nextEnd = ctx.payloadEnd;
  for (let i = dataChunks.length - 1; i >= 0; i--) {
    const c = dataChunks[i].chunk;
    c.compressedEnd = c.offset === nextOffset ? nextEnd : nextOffset;
    nextOffset = c.offset;
    nextEnd = c.compressedEnd;
  }
  return { version: toc.version, files, byName };
}

/** Follow hardlinks to the file that owns the data. */
export function resolveHardlink(toc: ParsedToc, file: TocFile): TocFile {
  let f = file;
  for (let hops = 0; f.type === "hardlink" && hops < toc.files.length; hops++) f = toc.byName.get(f.linkName) ?? f;
  return f;
}
