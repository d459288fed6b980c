// Convert an uncompressed (or gzip/zstd-compressed) layer tar into an eStargz blob (gzip) or a
// zstd:chunked blob. Layout follows the reference writer: an entry's tar header goes into the
// member that is open, each file chunk starts a new member, the padding after a file stays in its
// last chunk's member. Each input entry's header blocks are copied verbatim, so file metadata
// survives byte for byte; only the order changes (prioritized files, landmark).
import {
  DEFAULT_CHUNK_SIZE,
  DEFAULT_GZIP_LEVEL,
  DEFAULT_ZSTD_LEVEL,
  LANDMARK_CONTENTS,
  MEDIA_TYPE_GZIP_LAYER,
  MEDIA_TYPE_ZSTD_LAYER,
  TOC_DIGEST_ANNOTATION,
  TOC_TAR_NAME,
  UNCOMPRESSED_SIZE_ANNOTATION,
  ZSTD_MANIFEST_CHECKSUM_ANNOTATION,
  ZSTD_MANIFEST_POSITION_ANNOTATION,
} from "./constants.ts";
import { compressMember, compressTocMember, decompressSpan, sniffCompression, type CompressionKind } from "./compress.ts";
import { sha256Digest } from "./digest.ts";
import { skippableFrame, writeEstargzFooter, writeZstdFooter } from "./footer.ts";
import { MemberStream, type ByteSink, type MemberCompressor } from "./member-stream.ts";
import { createCompressPool } from "./compress-pool.ts";
import { orderEntries, type OrderedItem } from "./order.ts";
import { parseTar, TarFormatError, type TarEntry } from "./tar-read.ts";
import { END_OF_ARCHIVE, padding, regularFileHeader } from "./tar-write.ts";
import { parseToc } from "./toc.ts";
import { formatModtime, marshalToc, type TocEntryOut } from "./toc-json.ts";

/**
 * The layer tar: bytes, a stream (buffered in memory), or a file path (memory-mapped). It may be
 * gzip- or zstd-compressed; it is then decompressed into memory first.
 */
export type TarInput = Uint8Array | ReadableStream<Uint8Array> | { path: string };

export interface BuildOptions {
  /** "gzip" = eStargz (default); "zstd-chunked" = zstd:chunked. */
  format?: "gzip" | "zstd-chunked";
  /** gzip 0–9 (default 9, the reference's BestCompression) or zstd level (default 3). */
  level?: number;
  /** Uncompressed bytes per chunk (default 4 MiB). */
  chunkSize?: number;
  /** Paths to place first, ahead of the prefetch landmark. */
  prioritizedFiles?: string[];
  /** Report prioritized paths missing from the tar instead of failing. */
  allowMissingPrioritized?: boolean;
  /** Receive the blob as it is produced instead of getting it back whole. */
  sink?: ByteSink;
  /** Compress members on this many Workers (default 0: on this thread). Output bytes do not change. */
  workers?: number;
  /** Override how members are compressed; must be deterministic. */
  compressor?: MemberCompressor;
}

export interface BuildResult {
  /** The whole blob, unless a sink was given. */
  blob: Uint8Array | undefined;
  compressedSize: number;
  /** sha256 of the TOC JSON. */
  tocDigest: string;
  /** sha256 of the whole uncompressed stream (for zstd:chunked: excluding the TOC, which is not tar). */
  diffID: string;
  uncompressedSize: number;
  /** Layer descriptor annotations to publish with the blob. */
  annotations: Record<string, string>;
  mediaType: string;
  missedPrioritizedFiles: string[];
}

const TYPE_BY_FLAG: Record<string, string> = { "0": "reg", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };

async function loadTar(input: TarInput): Promise<Uint8Array> {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (input instanceof ReadableStream) bytes = new Uint8Array(await Bun.readableStreamToArrayBuffer(input));
  else {
    // Map the file rather than read it: layers can be far bigger than we want on the heap.
    bytes = Bun.file(input.path).size > 0 ? Bun.mmap(input.path, { shared: false }) : new Uint8Array();
  }
  const kind = sniffCompression(bytes);
  return kind ? decompressSpan(kind, bytes) : bytes;
}

/** What the writer needs from an entry, whether it came from the tar or is a landmark. */
interface SourceEntry {
  header: Uint8Array;
  data: Uint8Array;
  toc: TocEntryOut;
}

function landmarkEntry(name: string): SourceEntry {
  return { header: regularFileHeader(name, 1), data: new Uint8Array([LANDMARK_CONTENTS]), toc: { name, type: "reg", size: 1 } };
}

class NameCarrier {
  private readonly last = new Map<number, string>();
  /** The reference writes a user/group name only when it differs from the last one for that id. */
  ifChanged(id: number, name: string): string {
    if (!name || this.last.get(id) === name) return "";
    this.last.set(id, name);
    return name;
  }
}

export async function buildEstargz(input: TarInput, opts: BuildOptions = {}): Promise<BuildResult> {
  const kind: CompressionKind = opts.format === "zstd-chunked" ? "zstd" : "gzip";
  const level = opts.level ?? (kind === "gzip" ? DEFAULT_GZIP_LEVEL : DEFAULT_ZSTD_LEVEL);
  const chunkSize = opts.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isSafeInteger(chunkSize) || chunkSize <= 0) throw new RangeError(`convert to eStargz: chunk size ${chunkSize} must be a positive integer`);

  const tar = await loadTar(input);
  let entries: TarEntry[];
  try {
    entries = parseTar(tar);
  } catch (e) {
    if (e instanceof TarFormatError) throw new Error(`convert to eStargz: ${e.message}`);
    throw e;
  }
  const prioritized = opts.prioritizedFiles ?? [];
  const { items, missed } = orderEntries(entries, prioritized, opts.allowMissingPrioritized ?? false);

  const pool = !opts.compressor && (opts.workers ?? 0) > 0 ? createCompressPool(kind, level, opts.workers!) : undefined;
  try {
    return await writeBlob(tar, items, missed, kind, level, chunkSize, opts, pool?.compress, pool?.inFlight);
  } finally {
    pool?.close();
  }
}

async function writeBlob(
  tar: Uint8Array,
  items: OrderedItem[],
  missed: string[],
  kind: CompressionKind,
  level: number,
  chunkSize: number,
  opts: BuildOptions,
  poolCompressor: MemberCompressor | undefined,
  inFlight: number | undefined,
): Promise<BuildResult> {
  const parts: Uint8Array[] = [];
  const sink: ByteSink = opts.sink ?? ((b) => void parts.push(b));
  const compressor: MemberCompressor = opts.compressor ?? poolCompressor ?? ((plain) => compressMember(kind, plain, level));
  const ms = new MemberStream(compressor, sink, inFlight);
  const users = new NameCarrier();
  const groups = new NameCarrier();
  const tocEntries: TocEntryOut[] = [];
  const memberOf = new Map<TocEntryOut, number>(); // data entries → member index, for offsets later

  for (const item of items) {
    let src: SourceEntry;
    if (item.kind === "landmark") src = landmarkEntry(item.name);
    else {
      const e = item.entry;
      const type = TYPE_BY_FLAG[e.typeflag];
      if (!type) throw new Error(`convert to eStargz: tar entry ${JSON.stringify(e.name)}: unsupported tar type ${JSON.stringify(e.typeflag)}`);
      const xattrs: Record<string, string> = {};
      for (const [k, v] of e.xattrs) xattrs[k] = Buffer.from(v).toString("base64");
      src = {
        header: tar.subarray(e.headerStart, e.dataStart),
        data: tar.subarray(e.dataStart, e.dataStart + e.size),
        toc: {
          name: e.name,
          type,
          size: type === "reg" ? e.size : 0,
          modtime: formatModtime(e.mtime),
          linkName: type === "hardlink" || type === "symlink" ? e.linkname : "",
          mode: e.mode,
          uid: e.uid,
          gid: e.gid,
          userName: users.ifChanged(e.uid, e.uname),
          groupName: groups.ifChanged(e.gid, e.gname),
          devMajor: type === "char" || type === "block" ? e.devmajor : 0,
          devMinor: type === "char" || type === "block" ? e.devminor : 0,
          xattrs,
        },
      };
    }
    ms.append(src.header);
    if (src.toc.type !== "reg") {
      tocEntries.push(src.toc);
      continue;
    }
    src.toc.digest = sha256Digest(src.data);
    if (src.data.length === 0) {
      tocEntries.push(src.toc);
      continue;
    }
    let ent = src.toc;
    for (let written = 0; written < src.data.length; ) {
      await ms.closeMember(); // every chunk starts its own member
      const n = Math.min(chunkSize, src.data.length - written);
      if (n === chunkSize) ent.chunkSize = n; // the reference leaves a short last chunk's size implicit
      ent.chunkOffset = written;
      const chunk = src.data.subarray(written, written + n);
      ent.chunkDigest = sha256Digest(chunk);
      memberOf.set(ent, ms.memberIndex);
      ms.append(chunk);
      tocEntries.push(ent);
      written += n;
      ent = { name: src.toc.name, type: "chunk" };
    }
    ms.append(padding(src.data.length));
  }

  if (kind === "zstd") ms.append(END_OF_ARCHIVE); // keep the decompressed stream a complete tar
  const { memberOffsets, total: payloadSize } = await ms.offsets();
  for (const [ent, member] of memberOf) ent.offset = memberOffsets[member];
  const tocJson = marshalToc(tocEntries);
  // Self-check: never publish a blob our own reader would refuse (errors name the bad entry).
  parseToc(tocJson, { layerDigest: "(layer being converted)", payloadEnd: payloadSize });
  const tocDigest = sha256Digest(tocJson);
  const annotations: Record<string, string> = { [TOC_DIGEST_ANNOTATION]: tocDigest };

  let compressedSize: number;
  if (kind === "gzip") {
    const tocTar = new Uint8Array(Buffer.concat([regularFileHeader(TOC_TAR_NAME, tocJson.length), tocJson, padding(tocJson.length), END_OF_ARCHIVE]));
    await ms.appendCompressed(tocTar, opts.compressor ? await opts.compressor(tocTar) : compressTocMember(tocTar, level));
    await ms.writeRaw(writeEstargzFooter(payloadSize));
    compressedSize = (await ms.offsets()).total;
  } else {
    const compressedToc = compressMember("zstd", tocJson, level);
    const tocOffset = payloadSize + 8; // past the skippable frame's own header
    await ms.writeRaw(skippableFrame(compressedToc));
    await ms.writeRaw(writeZstdFooter({ tocOffset, tocCompressedSize: compressedToc.length, tocUncompressedSize: tocJson.length }));
    compressedSize = (await ms.offsets()).total;
    annotations[ZSTD_MANIFEST_CHECKSUM_ANNOTATION] = sha256Digest(compressedToc);
    annotations[ZSTD_MANIFEST_POSITION_ANNOTATION] = `${tocOffset}:${compressedToc.length}:${tocJson.length}:1`;
  }
  annotations[UNCOMPRESSED_SIZE_ANNOTATION] = String(ms.diff.length);

  return {
    blob: opts.sink ? undefined : new Uint8Array(Buffer.concat(parts)),
    compressedSize,
    tocDigest,
    diffID: ms.diff.digest(),
    uncompressedSize: ms.diff.length,
    annotations,
    mediaType: kind === "gzip" ? MEDIA_TYPE_GZIP_LAYER : MEDIA_TYPE_ZSTD_LAYER,
    missedPrioritizedFiles: missed,
  };
}
