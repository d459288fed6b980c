// Open an eStargz / legacy stargz / zstd:chunked blob through a random-access source (the lazy FS
// backs it with HTTP Range requests): find the footer, fetch and check the TOC, and serve verified
// chunks. Every failure is an EstargzError naming the layer digest (and the entry when there is one).
import {
  ESTARGZ_FOOTER_SIZE,
  LEGACY_FOOTER_SIZE,
  NO_PREFETCH_LANDMARK,
  PREFETCH_LANDMARK,
  TOC_TAR_NAME,
  ZSTD_FOOTER_FRAME_SIZE,
} from "./constants.ts";
import { decompressSpan, type CompressionKind } from "./compress.ts";
import { decompressPrefix } from "./decompress-prefix.ts";
import { sha256Digest } from "./digest.ts";
import { EstargzError } from "./errors.ts";
import { parseEstargzFooter, parseLegacyFooter, parseZstdFooter, SKIPPABLE_FRAME_MAGIC } from "./footer.ts";
import { parseTar } from "./tar-read.ts";
import { parseToc, resolveHardlink, type ParsedToc, type TocChunk, type TocFile } from "./toc.ts";
import { buildTree, type TocTree } from "./tree.ts";

export interface RandomAccessSource {
  size: number;
  readAt(offset: number, length: number): Promise<Uint8Array>;
}

export type BlobFormat = "estargz" | "stargz-legacy" | "zstd-chunked";

export interface OpenOptions {
  /** Digest of the blob, used in every error message. */
  layerDigest: string;
  /** The layer's toc.digest annotation; when given, a different TOC is refused. */
  expectedTocDigest?: string;
  /** Bytes fetched from the end of the blob in the first read, so small TOCs come in one request (default 64 KiB). */
  tailFetchSize?: number;
  /** Serve chunks that have no digest to check (legacy CRFS blobs). Default false: such reads fail. */
  allowMissingDigests?: boolean;
  /** Largest TOC JSON accepted, against decompression bombs (default 256 MiB). */
  maxTocSize?: number;
}

export interface LandmarkInfo {
  /** "prefetch": files before `.prefetch.landmark`; "no-prefetch": `.no.prefetch.landmark`; "none": neither. */
  kind: "prefetch" | "no-prefetch" | "none";
  /** End of the blob range [0, prefetchEnd) to fetch at mount; undefined for "none" (caller's policy). */
  prefetchEnd: number | undefined;
  /** Names of the non-directory entries placed before the landmark. */
  prioritizedFiles: string[];
}

export function isLandmark(name: string): boolean {
  return name === PREFETCH_LANDMARK || name === NO_PREFETCH_LANDMARK;
}

export class EstargzReader {
  private constructor(
    readonly source: RandomAccessSource,
    readonly layerDigest: string,
    readonly format: BlobFormat,
    /** Blob offset of the TOC (gzip member, or the zstd TOC data inside its skippable frame). */
    readonly tocOffset: number,
    /** End of the file data: chunk spans never go past it. */
    readonly payloadEnd: number,
    /** Size of the footer at the end of the blob (51, 47 or 48). */
    readonly footerSize: number,
    readonly tocDigest: string,
    readonly toc: ParsedToc,
    private readonly allowMissingDigests: boolean,
  ) {}

  static async open(source: RandomAccessSource, opts: OpenOptions): Promise<EstargzReader> {
    const t = await readToc(source, opts);
    const toc = parseToc(t.json, { layerDigest: opts.layerDigest, payloadEnd: t.payloadEnd });
    return new EstargzReader(source, opts.layerDigest, t.format, t.tocOffset, t.payloadEnd, t.footerSize, t.tocDigest, toc, opts.allowMissingDigests ?? false);
  }

  get compression(): CompressionKind {
    return this.format === "zstd-chunked" ? "zstd" : "gzip";
  }

  /** All entries in TOC order (landmarks included; hide them in `/` at the filesystem level). */
  get entries(): TocFile[] {
    return this.toc.files;
  }

  private treeCache: TocTree | undefined;

  /** Directory structure (children by base name, implicit parent directories filled in). */
  tree(): TocTree {
    return (this.treeCache ??= buildTree(this.toc.files));
  }

  /** Entry by name (cleaned form, "" for the root); hardlinks are returned as hardlinks. */
  lookup(name: string): TocFile | undefined {
    return this.toc.byName.get(name);
  }

  /** The file whose data a hardlink shares (or the file itself). */
  dataOwner(file: TocFile): TocFile {
    return resolveHardlink(this.toc, file);
  }

  landmark(): LandmarkInfo {
    return landmarkOf(this.toc);
  }

  private chunkOf(file: TocFile, index: number): { owner: TocFile; chunk: TocChunk } {
    const owner = this.dataOwner(file);
    const chunk = owner.chunks[index];
    if (!chunk) throw new EstargzError(this.layerDigest, file.name, `no chunk ${index} (file has ${owner.chunks.length})`);
    return { owner, chunk };
  }

  /** Blob byte range [offset, end) holding a chunk's compressed data. */
  chunkSpan(file: TocFile, index: number): { offset: number; end: number } {
    const { chunk } = this.chunkOf(file, index);
    return { offset: chunk.offset, end: chunk.compressedEnd };
  }

  /** Fetch, decompress and verify one chunk. */
  async readChunk(file: TocFile, index: number): Promise<Uint8Array> {
    const { chunk } = this.chunkOf(file, index);
    const compressed = await readExactly(this.source, chunk.offset, chunk.compressedEnd - chunk.offset, this.layerDigest, this.dataOwner(file).name, `chunk ${index}`);
    return this.decodeChunk(file, index, compressed);
  }

  /** Decompress and verify a chunk from its compressed span (for callers that cache spans). */
  async decodeChunk(file: TocFile, index: number, compressed: Uint8Array): Promise<Uint8Array> {
    const { owner, chunk } = this.chunkOf(file, index);
    const want = chunk.chunkDigest ?? (owner.chunks.length === 1 ? owner.digest : undefined);
    return decodeChunkSpan(this.compression, compressed, { layerDigest: this.layerDigest, file: owner.name, index, chunk, want, allowMissingDigest: this.allowMissingDigests });
  }

  /** A whole regular file (all chunks, verified). */
  async readFile(file: TocFile): Promise<Uint8Array> {
    const owner = this.dataOwner(file);
    const out = new Uint8Array(owner.size);
    for (let i = 0; i < owner.chunks.length; i++) out.set(await this.readChunk(owner, i), owner.chunks[i].chunkOffset);
    return out;
  }
}

/** The TOC's prefetch landmark (see EstargzReader.landmark). */
export function landmarkOf(toc: ParsedToc): LandmarkInfo {
  const mark = toc.byName.get(PREFETCH_LANDMARK);
  if (mark) {
    const prioritizedFiles = toc.files.filter((f) => f.tocIndex < mark.tocIndex && f.type !== "dir").map((f) => f.name);
    return { kind: "prefetch", prefetchEnd: mark.chunks[0]?.offset ?? 0, prioritizedFiles };
  }
  if (toc.byName.get(NO_PREFETCH_LANDMARK)) return { kind: "no-prefetch", prefetchEnd: 0, prioritizedFiles: [] };
  return { kind: "none", prefetchEnd: undefined, prioritizedFiles: [] };
}

/** What decodeChunkSpan checks a chunk against and names in its errors. */
export interface ChunkSpec {
  layerDigest: string;
  /** Name of the file owning the data. */
  file: string;
  /** Index of the chunk in its file. */
  index: number;
  chunk: Pick<TocChunk, "chunkOffset" | "chunkSize" | "offset" | "innerOffset">;
  /** Digest the chunk's bytes must have (chunkDigest, or a one-chunk file's digest). */
  want: string | undefined;
  /** Hand out bytes without a digest to check (legacy CRFS blobs). */
  allowMissingDigest?: boolean;
}

/** Decompress and verify one chunk from its compressed span; EstargzError names layer, file and chunk. */
export async function decodeChunkSpan(kind: CompressionKind, compressed: Uint8Array, s: ChunkSpec): Promise<Uint8Array> {
  const { chunk, want } = s;
  const fail = (detail: string): never => {
    throw new EstargzError(s.layerDigest, s.file, `chunk ${s.index} (file offset ${chunk.chunkOffset}, blob offset ${chunk.offset}): ${detail}`);
  };
  let plain: Uint8Array;
  try {
    plain = await decompressPrefix(kind, compressed, chunk.innerOffset + chunk.chunkSize);
  } catch (e) {
    return fail(`cannot decompress: ${(e as Error).message}`);
  }
  if (plain.length < chunk.innerOffset + chunk.chunkSize) fail(`decompressed to ${plain.length} bytes, need ${chunk.innerOffset + chunk.chunkSize}`);
  const data = plain.subarray(chunk.innerOffset, chunk.innerOffset + chunk.chunkSize);
  if (want === undefined) {
    if (!s.allowMissingDigest) fail("TOC has no digest for this chunk; refusing unverified data");
    return data;
  }
  const got = sha256Digest(data);
  if (got !== want) fail(`digest mismatch: TOC says ${want}, data is ${got}`);
  return data;
}

/** Where a blob's TOC is and its JSON bytes, checked against the expected digest but not parsed. */
export interface LocatedToc {
  format: BlobFormat;
  tocOffset: number;
  payloadEnd: number;
  footerSize: number;
  tocDigest: string;
  /** The TOC JSON (a view into the decompressed TOC). */
  json: Uint8Array;
}

/**
 * Footer and TOC of a blob: finds the footer, fetches and decompresses the TOC and checks it
 * against `expectedTocDigest`, without parsing it (EstargzReader.open parses it; the lazy layer's
 * fetch thread has it parsed by a short-lived thread).
 */
export async function readToc(source: RandomAccessSource, opts: OpenOptions): Promise<LocatedToc> {
  const layer = opts.layerDigest;
  const fail = (detail: string): never => {
    throw new EstargzError(layer, undefined, detail);
  };
  const size = source.size;
  if (size < LEGACY_FOOTER_SIZE) fail(`blob is ${size} bytes, too small for any footer`);
  const tailLength = Math.min(size, Math.max(ESTARGZ_FOOTER_SIZE, opts.tailFetchSize ?? 64 << 10));
  const tailStart = size - tailLength;
  const tail = await readExactly(source, tailStart, tailLength, layer, undefined, "footer");
  const fromTail = (start: number, end: number) => (start >= tailStart ? tail.subarray(start - tailStart, end - tailStart) : undefined);
  const fetch = async (start: number, end: number, what: string) => fromTail(start, end) ?? (await readExactly(source, start, end - start, layer, undefined, what));

  const problems: string[] = [];
  let found: { format: BlobFormat; kind: CompressionKind; tocOffset: number; footerSize: number; zstdSizes?: [number, number] } | undefined;
  if (size >= ZSTD_FOOTER_FRAME_SIZE) {
    const z = parseZstdFooter(tail.subarray(tailLength - ZSTD_FOOTER_FRAME_SIZE));
    if ("error" in z) problems.push(z.error);
    else found = { format: "zstd-chunked", kind: "zstd", tocOffset: z.tocOffset, footerSize: ZSTD_FOOTER_FRAME_SIZE, zstdSizes: [z.tocCompressedSize, z.tocUncompressedSize] };
  }
  if (!found && size >= ESTARGZ_FOOTER_SIZE) {
    const f = parseEstargzFooter(tail.subarray(tailLength - ESTARGZ_FOOTER_SIZE));
    if ("error" in f) problems.push(f.error);
    else found = { format: "estargz", kind: "gzip", tocOffset: f.tocOffset, footerSize: ESTARGZ_FOOTER_SIZE };
  }
  if (!found) {
    const f = parseLegacyFooter(tail.subarray(tailLength - LEGACY_FOOTER_SIZE));
    if ("error" in f) problems.push(f.error);
    else found = { format: "stargz-legacy", kind: "gzip", tocOffset: f.tocOffset, footerSize: LEGACY_FOOTER_SIZE };
  }
  if (!found) return fail(`no eStargz, legacy stargz or zstd:chunked footer (${problems.join("; ")})`);

  const footerStart = size - found.footerSize;
  const maxToc = opts.maxTocSize ?? 256 << 20;
  const tooBig = (e: unknown) => (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
  let tocJson: Uint8Array;
  let payloadEnd: number;
  if (found.kind === "gzip") {
    if (found.tocOffset >= footerStart) fail(`footer points at TOC offset ${found.tocOffset}, beyond the blob (${size} bytes)`);
    payloadEnd = found.tocOffset;
    let tocTar: Uint8Array;
    try {
      // + room for the TOC's tar header(s) and the end-of-archive blocks
      tocTar = decompressSpan("gzip", await fetch(found.tocOffset, footerStart, "TOC"), maxToc + (64 << 10));
    } catch (e) {
      if (tooBig(e)) fail(`TOC is larger than the ${maxToc}-byte limit`);
      return fail(`TOC at offset ${found.tocOffset} is not valid gzip: ${(e as Error).message}`);
    }
    let first;
    try {
      first = parseTar(tocTar)[0];
    } catch (e) {
      return fail(`TOC at offset ${found.tocOffset} is not a tar entry: ${(e as Error).message}`);
    }
    if (!first || first.name !== TOC_TAR_NAME) fail(`TOC tar entry is named ${JSON.stringify(first?.name)}, expected ${TOC_TAR_NAME}`);
    if (first.size > maxToc) fail(`TOC is ${first.size} bytes, over the ${maxToc}-byte limit`);
    tocJson = tocTar.subarray(first.dataStart, first.dataStart + first.size);
  } else {
    const [compressedSize, uncompressedSize] = found.zstdSizes!;
    if (uncompressedSize > maxToc) fail(`TOC is ${uncompressedSize} bytes, over the ${maxToc}-byte limit`);
    if (found.tocOffset < 8 || found.tocOffset + compressedSize > footerStart) fail(`zstd:chunked footer points at TOC [${found.tocOffset}, +${compressedSize}) outside the blob (${size} bytes)`);
    payloadEnd = found.tocOffset - 8;
    const frame = await fetch(payloadEnd, found.tocOffset + compressedSize, "TOC");
    const frameLen = new DataView(frame.buffer, frame.byteOffset, 8).getUint32(4, true);
    if (!SKIPPABLE_FRAME_MAGIC.every((b, i) => frame[i] === b) || frameLen !== compressedSize) fail(`TOC at offset ${found.tocOffset} is not in a skippable frame of ${compressedSize} bytes`);
    try {
      tocJson = decompressSpan("zstd", frame.subarray(8), Math.max(1, uncompressedSize));
    } catch (e) {
      if (tooBig(e)) fail(`TOC decompresses to more than the ${uncompressedSize} bytes the footer says`);
      return fail(`TOC at offset ${found.tocOffset} is not valid zstd: ${(e as Error).message}`);
    }
    if (tocJson.length !== uncompressedSize) fail(`TOC is ${tocJson.length} bytes, footer says ${uncompressedSize}`);
  }
  const tocDigest = sha256Digest(tocJson);
  if (opts.expectedTocDigest !== undefined && opts.expectedTocDigest !== tocDigest) {
    fail(`TOC digest mismatch: expected ${opts.expectedTocDigest}, TOC in blob is ${tocDigest}`);
  }
  return { format: found.format, tocOffset: found.tocOffset, payloadEnd, footerSize: found.footerSize, tocDigest, json: tocJson };
}

export function openEstargz(source: RandomAccessSource, opts: OpenOptions): Promise<EstargzReader> {
  return EstargzReader.open(source, opts);
}

/** A source over bytes in memory (tests, blobs already in the content store). */
export function bytesSource(bytes: Uint8Array): RandomAccessSource {
  return { size: bytes.length, readAt: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/** A source over a local file. */
export function fileSource(path: string, size: number): RandomAccessSource {
  const file = Bun.file(path);
  return { size, readAt: async (offset, length) => new Uint8Array(await file.slice(offset, offset + length).arrayBuffer()) };
}

async function readExactly(source: RandomAccessSource, offset: number, length: number, layer: string, entry: string | undefined, what: string): Promise<Uint8Array> {
  if (offset < 0 || length < 0 || offset + length > source.size) {
    throw new EstargzError(layer, entry, `${what}: range [${offset}, ${offset + length}) is outside the blob (${source.size} bytes)`);
  }
  const got = await source.readAt(offset, length);
  if (got.length !== length) throw new EstargzError(layer, entry, `${what}: short read at ${offset}: got ${got.length} of ${length} bytes`);
  return got;
}
