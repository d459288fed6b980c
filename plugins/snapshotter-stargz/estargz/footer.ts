// Footers that tell a reader where the TOC is.
// - eStargz (51 bytes): an empty, stored gzip member whose Extra field is subfield "SG", length 22,
//   holding "%016x" of the TOC offset + "STARGZ".
// - legacy stargz/CRFS (47 bytes): same, but the Extra field is the bare 22-byte string.
// - zstd:chunked: a skippable frame (magic 50 2a 4d 18, length 40) holding the TOC offset,
//   compressed length, uncompressed length (LE u64 each), manifest type 1 and "GnUlInUx".
import {
  ESTARGZ_FOOTER_SIZE,
  LEGACY_FOOTER_SIZE,
  ZSTD_FOOTER_FRAME_SIZE,
  ZSTD_FOOTER_PAYLOAD_SIZE,
} from "./constants.ts";

const MAGIC = "STARGZ";
const ZSTD_CHUNKED_MAGIC = "GnUlInUx";
export const SKIPPABLE_FRAME_MAGIC = new Uint8Array([0x50, 0x2a, 0x4d, 0x18]);
const MANIFEST_TYPE_CRFS = 1n;
// An empty final stored deflate block, then CRC32 = 0 and ISIZE = 0.
const EMPTY_STORED_DEFLATE_AND_TRAILER = [0x01, 0x00, 0x00, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];

function offsetField(tocOffset: number): string {
  if (!Number.isSafeInteger(tocOffset) || tocOffset < 0) throw new RangeError(`invalid TOC offset ${tocOffset}`);
  return tocOffset.toString(16).padStart(16, "0") + MAGIC;
}

function gzipWithExtra(extra: Uint8Array): Uint8Array {
  // Header: magic, CM=deflate, FLG=FEXTRA, MTIME=0, XFL=0, OS=255 (what Go's gzip writes).
  const out = new Uint8Array(10 + 2 + extra.length + EMPTY_STORED_DEFLATE_AND_TRAILER.length);
  out.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0x00, 0xff]);
  out[10] = extra.length & 0xff;
  out[11] = extra.length >> 8;
  out.set(extra, 12);
  out.set(EMPTY_STORED_DEFLATE_AND_TRAILER, 12 + extra.length);
  return out;
}

/** The 51-byte eStargz footer pointing at `tocOffset`. */
export function writeEstargzFooter(tocOffset: number): Uint8Array {
  const field = new TextEncoder().encode(offsetField(tocOffset));
  const extra = new Uint8Array(4 + field.length);
  extra.set([0x53, 0x47, field.length & 0xff, field.length >> 8]); // "SG", LE length 22
  extra.set(field, 4);
  return gzipWithExtra(extra);
}

/** The 47-byte legacy stargz (CRFS) footer pointing at `tocOffset`. */
export function writeLegacyFooter(tocOffset: number): Uint8Array {
  return gzipWithExtra(new TextEncoder().encode(offsetField(tocOffset)));
}

/** Returns the Extra field of a footer-shaped gzip member, or a reason it is not one. */
function footerExtra(p: Uint8Array): Uint8Array | string {
  if (p[0] !== 0x1f || p[1] !== 0x8b || p[2] !== 0x08) return "not a gzip member";
  if (p[3] !== 0x04) return `gzip flags 0x${p[3].toString(16)} (want only FEXTRA)`;
  const xlen = p[10] | (p[11] << 8);
  if (12 + xlen + EMPTY_STORED_DEFLATE_AND_TRAILER.length !== p.length) return `extra field length ${xlen} does not fit a ${p.length}-byte footer`;
  const tail = p.subarray(12 + xlen);
  if (!EMPTY_STORED_DEFLATE_AND_TRAILER.every((b, i) => tail[i] === b)) return "footer is not an empty stored gzip member";
  return p.subarray(12, 12 + xlen);
}

function parseOffsetField(field: Uint8Array): number | string {
  const s = new TextDecoder().decode(field);
  if (s.length !== 22 || !s.endsWith(MAGIC)) return "magic string STARGZ not found";
  const hex = s.slice(0, 16);
  if (!/^[0-9a-fA-F]{16}$/.test(hex)) return `TOC offset ${JSON.stringify(hex)} is not hexadecimal`;
  const off = Number.parseInt(hex, 16);
  if (!Number.isSafeInteger(off)) return `TOC offset 0x${hex} is too large`;
  return off;
}

export type FooterResult = { tocOffset: number } | { error: string };

/** Parse the last 51 bytes of a blob as an eStargz footer. */
export function parseEstargzFooter(p: Uint8Array): FooterResult {
  if (p.length !== ESTARGZ_FOOTER_SIZE) return { error: `eStargz footer must be ${ESTARGZ_FOOTER_SIZE} bytes, got ${p.length}` };
  const extra = footerExtra(p);
  if (typeof extra === "string") return { error: `eStargz footer: ${extra}` };
  if (extra[0] !== 0x53 || extra[1] !== 0x47) return { error: "eStargz footer: subfield id is not SG" };
  if ((extra[2] | (extra[3] << 8)) !== 22) return { error: "eStargz footer: subfield length is not 22" };
  const off = parseOffsetField(extra.subarray(4));
  return typeof off === "string" ? { error: `eStargz footer: ${off}` } : { tocOffset: off };
}

/** Parse the last 47 bytes of a blob as a legacy stargz footer. */
export function parseLegacyFooter(p: Uint8Array): FooterResult {
  if (p.length !== LEGACY_FOOTER_SIZE) return { error: `legacy footer must be ${LEGACY_FOOTER_SIZE} bytes, got ${p.length}` };
  const extra = footerExtra(p);
  if (typeof extra === "string") return { error: `legacy footer: ${extra}` };
  const off = parseOffsetField(extra);
  return typeof off === "string" ? { error: `legacy footer: ${off}` } : { tocOffset: off };
}

export interface ZstdFooter {
  /** Blob offset of the compressed TOC (just past its skippable frame header). */
  tocOffset: number;
  tocCompressedSize: number;
  tocUncompressedSize: number;
}

/** The 48-byte zstd:chunked footer frame (8-byte skippable frame header + 40-byte payload). */
export function writeZstdFooter(f: ZstdFooter): Uint8Array {
  const out = new Uint8Array(ZSTD_FOOTER_FRAME_SIZE);
  const dv = new DataView(out.buffer);
  out.set(SKIPPABLE_FRAME_MAGIC, 0);
  dv.setUint32(4, ZSTD_FOOTER_PAYLOAD_SIZE, true);
  dv.setBigUint64(8, BigInt(f.tocOffset), true);
  dv.setBigUint64(16, BigInt(f.tocCompressedSize), true);
  dv.setBigUint64(24, BigInt(f.tocUncompressedSize), true);
  dv.setBigUint64(32, MANIFEST_TYPE_CRFS, true);
  out.set(new TextEncoder().encode(ZSTD_CHUNKED_MAGIC), 40);
  return out;
}

/** Wrap bytes in a zstd skippable frame (how the TOC itself is stored). */
export function skippableFrame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  out.set(SKIPPABLE_FRAME_MAGIC, 0);
  new DataView(out.buffer).setUint32(4, payload.length, true);
  out.set(payload, 8);
  return out;
}

export type ZstdFooterResult = ZstdFooter | { error: string };

/** Parse the last 48 bytes of a blob as a zstd:chunked footer frame. */
export function parseZstdFooter(p: Uint8Array): ZstdFooterResult {
  if (p.length !== ZSTD_FOOTER_FRAME_SIZE) return { error: `zstd:chunked footer must be ${ZSTD_FOOTER_FRAME_SIZE} bytes, got ${p.length}` };
  if (!SKIPPABLE_FRAME_MAGIC.every((b, i) => p[i] === b)) return { error: "zstd:chunked footer: not a skippable frame" };
  const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
  if (dv.getUint32(4, true) !== ZSTD_FOOTER_PAYLOAD_SIZE) return { error: "zstd:chunked footer: frame length is not 40" };
  if (new TextDecoder().decode(p.subarray(40)) !== ZSTD_CHUNKED_MAGIC) return { error: "zstd:chunked footer: magic GnUlInUx not found" };
  if (dv.getBigUint64(32, true) !== MANIFEST_TYPE_CRFS) return { error: "zstd:chunked footer: manifest type is not 1 (CRFS)" };
  const num = (at: number): number | undefined => {
    const n = dv.getBigUint64(at, true);
    return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : undefined;
  };
  const tocOffset = num(8);
  const tocCompressedSize = num(16);
  const tocUncompressedSize = num(24);
  if (tocOffset === undefined || tocCompressedSize === undefined || tocUncompressedSize === undefined) return { error: "zstd:chunked footer: value too large" };
  return { tocOffset, tocCompressedSize, tocUncompressedSize };
}
