// Full verification of a blob (`edgebuild inspect --verify`): TOC digest, every chunk digest,
// every whole-file digest, the blob digest, the diffID of the decompressed stream, and that the
// tar stream (what a non-lazy puller unpacks) holds exactly what the TOC (what the lazy FS
// serves) describes.
import { Readable } from "node:stream";
import * as zlib from "node:zlib";
import { TOC_TAR_NAME } from "./constants.ts";
import { Sha256Stream } from "./digest.ts";
import { EstargzError } from "./errors.ts";
import { cleanEntryName } from "./names.ts";
import { openEstargz, type BlobFormat, type EstargzReader, type OpenOptions, type RandomAccessSource } from "./reader.ts";
import { TarFormatError, TarScanner, type TarEntry } from "./tar-read.ts";

export interface VerifyOptions extends OpenOptions {
  /** The image config's diff_id for this layer, if known. */
  expectedDiffID?: string;
  /** The descriptor digest of the blob (defaults to `layerDigest` when that is a sha256 digest). */
  expectedBlobDigest?: string;
  /** Bytes per read while streaming the whole blob (default 4 MiB). */
  readSize?: number;
}

export interface VerifyReport {
  format: BlobFormat;
  tocDigest: string;
  blobDigest: string;
  compressedSize: number;
  diffID: string;
  uncompressedSize: number;
  /** Regular files whose content was read and checked. */
  files: number;
  chunks: number;
}

export async function verifyBlob(source: RandomAccessSource, opts: VerifyOptions): Promise<VerifyReport> {
  const reader = await openEstargz(source, opts);
  const layer = opts.layerDigest;
  let files = 0;
  let chunks = 0;
  const contentDigests = new Map<string, string>();
  for (const file of reader.entries) {
    if (file.type !== "reg") continue;
    const whole = new Sha256Stream();
    for (let i = 0; i < file.chunks.length; i++) {
      whole.update(await reader.readChunk(file, i));
      chunks++;
    }
    const got = whole.digest();
    if (file.digest !== undefined && got !== file.digest) {
      throw new EstargzError(layer, file.name, `file digest mismatch: TOC says ${file.digest}, content is ${got}`);
    }
    contentDigests.set(file.name, got);
    files++;
  }

  const { blobDigest, diffID, uncompressedSize, streamEntries } = await digestWholeBlob(source, reader.compression, opts.readSize ?? 4 << 20, layer);
  compareStreamWithToc(reader, streamEntries, contentDigests);
  const expectedBlob = opts.expectedBlobDigest ?? (/^sha256:[0-9a-f]{64}$/.test(layer) ? layer : undefined);
  if (expectedBlob !== undefined && expectedBlob !== blobDigest) {
    throw new EstargzError(layer, undefined, `blob digest mismatch: expected ${expectedBlob}, blob is ${blobDigest}`);
  }
  if (opts.expectedDiffID !== undefined && opts.expectedDiffID !== diffID) {
    throw new EstargzError(layer, undefined, `diffID mismatch: expected ${opts.expectedDiffID}, decompressed blob is ${diffID}`);
  }
  return { format: reader.format, tocDigest: reader.tocDigest, blobDigest, compressedSize: source.size, diffID, uncompressedSize, files, chunks };
}

/** Stream the blob once: sha256 of the compressed bytes, and of the decompressed stream (the diffID). */
async function digestWholeBlob(source: RandomAccessSource, kind: "gzip" | "zstd", readSize: number, layer: string) {
  const blob = new Sha256Stream();
  const diff = new Sha256Stream();
  let readError: unknown;
  async function* pieces() {
    for (let off = 0; off < source.size; off += readSize) {
      const want = Math.min(readSize, source.size - off);
      let piece: Uint8Array;
      try {
        piece = await source.readAt(off, want);
        if (piece.length !== want) throw new EstargzError(layer, undefined, `short read at ${off}: got ${piece.length} of ${want} bytes`);
      } catch (e) {
        readError = e;
        throw e;
      }
      blob.update(piece);
      yield piece;
    }
  }
  // Every member/frame is decompressed in sequence; the footer is an empty gzip member and the
  // zstd TOC and footer are skippable frames, so the output is exactly the layer's tar stream.
  const z = kind === "gzip" ? zlib.createGunzip() : zlib.createZstdDecompress();
  const input = Readable.from(pieces());
  input.on("error", (e) => z.destroy(e));
  input.pipe(z);
  const streamEntries: StreamEntry[] = [];
  const hashes = new Map<TarEntry, Sha256Stream>();
  const scanner = new TarScanner((entry, bytes) => {
    let h = hashes.get(entry);
    if (!h) hashes.set(entry, (h = new Sha256Stream()));
    h.update(bytes);
  });
  try {
    for await (const out of z) {
      diff.update(out as Uint8Array);
      for (const entry of scanner.push(out as Uint8Array)) {
        let h = hashes.get(entry);
        if (!h) hashes.set(entry, (h = new Sha256Stream()));
        streamEntries.push({ entry, hash: h });
      }
    }
  } catch (e) {
    if (readError !== undefined) throw readError;
    if (e instanceof TarFormatError) throw new EstargzError(layer, undefined, `decompressed blob is not a valid tar: ${e.message}`);
    throw new EstargzError(layer, undefined, `blob does not decompress as a whole: ${(e as Error).message}`);
  }
  try {
    scanner.end();
  } catch (e) {
    throw new EstargzError(layer, undefined, `decompressed blob is not a valid tar: ${(e as Error).message}`);
  }
  return { blobDigest: blob.digest(), diffID: diff.digest(), uncompressedSize: diff.length, streamEntries };
}

interface StreamEntry {
  entry: TarEntry;
  hash: Sha256Stream;
}

const TYPE_BY_FLAG: Record<string, string> = { "0": "reg", "1": "hardlink", "2": "symlink", "3": "char", "4": "block", "5": "dir", "6": "fifo" };

function compareStreamWithToc(reader: EstargzReader, stream: StreamEntry[], contentDigests: Map<string, string>): void {
  const layer = reader.layerDigest;
  const entries = [...stream];
  if (reader.compression === "gzip") {
    const last = entries.pop();
    if (!last || last.entry.name !== TOC_TAR_NAME) throw new EstargzError(layer, last?.entry.name, `the tar stream does not end with ${TOC_TAR_NAME}`);
  }
  const files = reader.entries;
  for (let i = 0; i < Math.max(entries.length, files.length); i++) {
    const s = entries[i]?.entry;
    const f = files[i];
    if (!s || !f) {
      throw new EstargzError(layer, (s?.name ?? f?.name)!, `tar stream has ${entries.length} entries but the TOC has ${files.length}`);
    }
    const cleaned = cleanEntryName(s.name);
    const name = "name" in cleaned ? cleaned.name : s.name;
    const mismatch = (what: string, stream: unknown, toc: unknown): never => {
      throw new EstargzError(layer, f.name, `tar stream and TOC disagree on ${what}: stream has ${JSON.stringify(stream)}, TOC has ${JSON.stringify(toc)}`);
    };
    if (name !== f.name) mismatch(`entry #${i}`, name, f.name);
    if (TYPE_BY_FLAG[s.typeflag] !== f.type) mismatch("type", TYPE_BY_FLAG[s.typeflag] ?? s.typeflag, f.type);
    if (f.type === "reg" && s.size !== f.size) mismatch("size", s.size, f.size);
    if ((s.mode & 0o7777) !== f.mode) mismatch("mode", s.mode & 0o7777, f.mode);
    if (s.uid !== f.uid || s.gid !== f.gid) mismatch("owner", [s.uid, s.gid], [f.uid, f.gid]);
    if (f.type === "symlink" && s.linkname !== f.linkName) mismatch("link target", s.linkname, f.linkName);
    if (f.type === "hardlink") {
      const t = cleanEntryName(s.linkname);
      if (!("name" in t) || t.name !== f.linkName) mismatch("link target", s.linkname, f.linkName);
    }
    if ((f.type === "char" || f.type === "block") && (s.devmajor !== f.devMajor || s.devminor !== f.devMinor)) {
      mismatch("device numbers", [s.devmajor, s.devminor], [f.devMajor, f.devMinor]);
    }
    if (f.type === "reg") {
      const got = entries[i].hash.digest();
      if (got !== contentDigests.get(f.name)) mismatch("content", got, contentDigests.get(f.name));
    }
  }
}
