// A tar parser: ustar, GNU long names/links and PAX extended headers. It is push-based so it can
// walk a decompressing stream without holding file data (verify.ts), and `parseTar` runs it over an
// in-memory tar (writer.ts, which re-emits each entry's original header blocks verbatim and so only
// needs what goes into the TOC, and where the header blocks and data are).

export const BLOCK = 512;

export interface TarEntry {
  /** Name exactly as in the archive (after PAX/GNU long-name overrides). */
  name: string;
  /** Typeflag character ('0' for regular files; '\0' and '7' are mapped to '0'). */
  typeflag: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Seconds since the epoch (may be fractional from a PAX mtime). */
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* PAX records, values as raw bytes. */
  xattrs: Map<string, Uint8Array>;
  /** [headerStart, dataStart): every header block of this entry (PAX, GNU long names, ustar). */
  headerStart: number;
  dataStart: number;
}

export class TarFormatError extends Error {
  override readonly name = "TarFormatError";
}

const dec = new TextDecoder();
/** Extension headers larger than this are refused (they are held in memory). */
const MAX_EXTENSION_SIZE = 16 << 20;
const HEADER_ONLY_TYPES = new Set(["1", "2", "3", "4", "5", "6"]);

function cstring(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

function numeric(b: Uint8Array, field: string, at: number): number {
  if (b[0] & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as a marker.
    let n = 0n;
    for (let i = 0; i < b.length; i++) n = (n << 8n) | BigInt(i === 0 ? b[i] & 0x7f : b[i]);
    if (b[0] & 0x40) n -= 1n << BigInt(b.length * 8 - 1);
    if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < -BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError(`tar header at ${at}: ${field} is too large`);
    return Number(n);
  }
  const s = cstring(b).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`tar header at ${at}: ${field} ${JSON.stringify(s)} is not octal`);
  return Number.parseInt(s, 8);
}

function checksumOk(h: Uint8Array, at: number): boolean {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= 148 && i < 156 ? 0x20 : h[i];
    unsigned += c;
    signed += c > 127 ? c - 256 : c;
  }
  const want = numeric(h.subarray(148, 156), "checksum", at);
  return want === unsigned || want === signed;
}

/** PAX records: "<len> <key>=<value>\n". Values stay bytes (xattr values may be binary). */
function parsePax(data: Uint8Array, at: number): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    if (sp < 0) throw new TarFormatError(`PAX header at ${at}: malformed record`);
    const len = Number.parseInt(dec.decode(data.subarray(p, sp)), 10);
    if (!Number.isInteger(len) || len <= sp - p || p + len > data.length || data[p + len - 1] !== 0x0a) {
      throw new TarFormatError(`PAX header at ${at}: malformed record length`);
    }
    const rec = data.subarray(sp + 1, p + len - 1);
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new TarFormatError(`PAX header at ${at}: record without '='`);
    out.set(dec.decode(rec.subarray(0, eq)), rec.subarray(eq + 1));
    p += len;
  }
  return out;
}

function padded(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

/**
 * Push-based tar walker: feed it the archive in pieces of any size; it returns entries as their
 * headers complete and skips file data without keeping it.
 */
export class TarScanner {
  private pos = 0; // absolute offset of the next byte pushed
  private buf: Uint8Array[] = []; // bytes of an incomplete header block or extension body
  private bufLength = 0;
  private skip = 0; // data + padding bytes still to skip
  private dataLeft = 0; // of which file data (handed to onData)
  private current: TarEntry | undefined; // entry whose data is being skipped
  private extension: { typeflag: string; at: number; size: number } | undefined; // body being read
  private pax: Map<string, Uint8Array> | undefined;
  private longName: string | undefined;
  private longLink: string | undefined;
  private headerStart = -1;
  /** True once the end-of-archive block was seen; later bytes are ignored. */
  ended = false;

  /** `onData` receives each entry's data bytes (no padding), in pieces, as they stream past. */
  constructor(private readonly onData?: (entry: TarEntry, bytes: Uint8Array) => void) {}

  push(chunk: Uint8Array): TarEntry[] {
    const out: TarEntry[] = [];
    let p = 0;
    while (p < chunk.length && !this.ended) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - p);
        if (this.onData && this.dataLeft > 0) {
          const d = Math.min(n, this.dataLeft);
          this.onData(this.current!, chunk.subarray(p, p + d));
          this.dataLeft -= d;
        }
        this.skip -= n;
        p += n;
        this.pos += n;
        continue;
      }
      const want = this.extension ? padded(this.extension.size) : BLOCK;
      const n = Math.min(want - this.bufLength, chunk.length - p);
      this.buf.push(chunk.subarray(p, p + n));
      this.bufLength += n;
      p += n;
      this.pos += n;
      if (this.bufLength < want) break;
      const whole = this.buf.length === 1 ? this.buf[0] : new Uint8Array(Buffer.concat(this.buf));
      this.buf = [];
      this.bufLength = 0;
      if (this.extension) this.finishExtension(whole);
      else {
        const entry = this.header(whole, this.pos - BLOCK);
        if (entry) out.push(entry);
      }
    }
    return out;
  }

  /** Call after the last byte: complains about an archive cut inside an entry. */
  end(): void {
    if (this.ended) return;
    if (this.skip > 0 || this.bufLength > 0 || this.extension || this.headerStart >= 0) {
      throw new TarFormatError(`tar: archive truncated at ${this.pos}`);
    }
  }

  private finishExtension(body: Uint8Array): void {
    const { typeflag, at, size } = this.extension!;
    this.extension = undefined;
    const data = body.subarray(0, size);
    if (typeflag === "x") this.pax = new Map([...(this.pax ?? []), ...parsePax(data, at)]);
    else if (typeflag === "L") this.longName = cstring(data);
    else if (typeflag === "K") this.longLink = cstring(data);
    // "g" (global PAX): skipped; in practice it carries comments (git archive).
  }

  private header(h: Uint8Array, at: number): TarEntry | undefined {
    if (h.every((b) => b === 0)) {
      if (this.headerStart >= 0) throw new TarFormatError(`tar at ${at}: archive ends inside an entry's extended headers`);
      this.ended = true;
      return undefined;
    }
    if (!checksumOk(h, at)) throw new TarFormatError(`tar header at ${at}: checksum mismatch`);
    const typeflag = String.fromCharCode(h[156] || 0x30);
    const size = numeric(h.subarray(124, 136), "size", at);
    if (typeflag === "x" || typeflag === "L" || typeflag === "K" || typeflag === "g") {
      if (typeflag === "g" && this.headerStart >= 0) throw new TarFormatError(`tar header at ${at}: global header inside an entry's extended headers`);
      if (size > MAX_EXTENSION_SIZE) throw new TarFormatError(`tar header at ${at}: ${size}-byte extended header is too large`);
      if (typeflag !== "g" && this.headerStart < 0) this.headerStart = at;
      if (size > 0) this.extension = { typeflag, at, size };
      else this.finishExtension(new Uint8Array());
      return undefined;
    }
    const pax = this.pax;
    const ustar = cstring(h.subarray(257, 263)) === "ustar" && h[262] === 0;
    let name = cstring(h.subarray(0, 100));
    if (ustar) {
      const prefix = cstring(h.subarray(345, 500));
      if (prefix) name = `${prefix}/${name}`;
    }
    const str = (key: string, fallback: string) => {
      const v = pax?.get(key);
      return v === undefined ? fallback : dec.decode(v);
    };
    const num = (key: string, fallback: number) => {
      const v = pax?.get(key);
      if (v === undefined) return fallback;
      const n = Number(dec.decode(v));
      if (!Number.isFinite(n)) throw new TarFormatError(`PAX header before ${at}: ${key} is not a number`);
      return n;
    };
    const xattrs = new Map<string, Uint8Array>();
    for (const [k, v] of pax ?? []) if (k.startsWith("SCHILY.xattr.")) xattrs.set(k.slice("SCHILY.xattr.".length), v);
    const tf = typeflag === "\0" || typeflag === "7" ? "0" : typeflag;
    // Header-only types carry no data whatever their size field says (as Go's reader treats them).
    const dataSize = HEADER_ONLY_TYPES.has(tf) ? 0 : num("size", size);
    const hasDev = ustar || h[257] !== 0;
    const entry: TarEntry = {
      name: str("path", this.longName ?? name),
      typeflag: tf,
      size: dataSize,
      mode: numeric(h.subarray(100, 108), "mode", at),
      uid: num("uid", numeric(h.subarray(108, 116), "uid", at)),
      gid: num("gid", numeric(h.subarray(116, 124), "gid", at)),
      uname: str("uname", cstring(h.subarray(265, 297))),
      gname: str("gname", cstring(h.subarray(297, 329))),
      mtime: num("mtime", numeric(h.subarray(136, 148), "mtime", at)),
      linkname: str("linkpath", this.longLink ?? cstring(h.subarray(157, 257))),
      devmajor: hasDev ? numeric(h.subarray(329, 337), "devmajor", at) : 0,
      devminor: hasDev ? numeric(h.subarray(337, 345), "devminor", at) : 0,
      xattrs,
      headerStart: this.headerStart >= 0 ? this.headerStart : at,
      dataStart: at + BLOCK,
    };
    this.pax = undefined;
    this.longName = undefined;
    this.longLink = undefined;
    this.headerStart = -1;
    this.skip = padded(dataSize);
    this.dataLeft = dataSize;
    this.current = entry;
    return entry;
  }
}

/** Parse every entry of an uncompressed tar held in memory. */
export function parseTar(tar: Uint8Array): TarEntry[] {
  const scanner = new TarScanner();
  const entries = scanner.push(tar);
  scanner.end();
  return entries;
}
