// A streaming tar reader: ustar, PAX (x/g, SCHILY.xattr.*) and GNU longname/longlink. Every byte
// read is hashed, so the caller gets the layer's diffID without a second pass.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { BLOCK, padding, type TarEntry, type TarEntryType } from './tar-header.ts';

export type TarSource = ReadableStream<Uint8Array> | Readable | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

function iterate(source: TarSource): AsyncIterator<Uint8Array> {
  if (source instanceof ReadableStream) return (source as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  if (Symbol.asyncIterator in source) return (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  const it = (source as Iterable<Uint8Array>)[Symbol.iterator]();
  return { next: async () => it.next() };
}

/** Pulls exact byte counts out of a chunked source, hashing everything it consumes. */
class ByteReader {
  private buf: Uint8Array = new Uint8Array(0);
  private readonly it: AsyncIterator<Uint8Array>;
  private readonly hash = createHash('sha256');
  size = 0;

  constructor(source: TarSource) {
    this.it = iterate(source);
  }

  private async fill(): Promise<boolean> {
    const r = await this.it.next();
    if (r.done) return false;
    const chunk = r.value instanceof Uint8Array ? r.value : new Uint8Array(r.value as ArrayBuffer);
    this.hash.update(chunk);
    this.size += chunk.length;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    return true;
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    while (this.buf.length < n && (await this.fill()));
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(out.length);
    return out;
  }

  /** n bytes as a sequence of chunks (no copying into one buffer). */
  async *chunks(n: number): AsyncGenerator<Uint8Array> {
    while (n > 0) {
      if (this.buf.length === 0 && !(await this.fill())) throw new Error(`unexpected end of stream (${n} bytes missing)`);
      const out = this.buf.subarray(0, Math.min(n, this.buf.length));
      this.buf = this.buf.subarray(out.length);
      n -= out.length;
      yield out;
    }
  }

  async skip(n: number): Promise<void> {
    for await (const _ of this.chunks(n));
  }

  /** Reads to the end so the digest covers trailing bytes too (as containerd's diffID does). */
  async drain(): Promise<void> {
    this.buf = new Uint8Array(0);
    while (await this.fill()) this.buf = new Uint8Array(0);
  }

  digest(): string {
    return `sha256:${this.hash.digest('hex')}`;
  }
}

const dec = new TextDecoder();

function str(block: Uint8Array, off: number, len: number): string {
  const field = block.subarray(off, off + len);
  const end = field.indexOf(0);
  return dec.decode(end < 0 ? field : field.subarray(0, end));
}

function num(block: Uint8Array, off: number, len: number, what: string): number {
  const field = block.subarray(off, off + len);
  if (field[0] & 0x80) {
    // GNU base-256: big-endian two's complement with the top bit as marker.
    let v = BigInt(field[0] & 0x7f);
    for (let i = 1; i < field.length; i++) v = (v << 8n) | BigInt(field[i]);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${what} ${v} out of range`);
    return Number(v);
  }
  const s = str(block, off, len).replace(/[ \0]+$/, '').trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`bad octal number in ${what} field: ${JSON.stringify(s)}`);
  return parseInt(s, 8);
}

function checksumOk(block: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : block[i];
  try {
    return sum === num(block, 148, 8, 'checksum');
  } catch {
    return false; // not even a number: as wrong as a wrong sum
  }
}

/** PAX records "LEN key=value\n"; values kept as bytes (xattr values are binary). */
function parsePax(data: Uint8Array, where: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  let off = 0;
  while (off < data.length) {
    if (data[off] === 0) break;
    const sp = data.indexOf(0x20, off);
    const len = sp < 0 ? NaN : Number(dec.decode(data.subarray(off, sp)));
    if (!Number.isInteger(len) || len <= 0 || off + len > data.length) throw new Error(`${where}: malformed PAX record at byte ${off}`);
    const rec = data.subarray(sp + 1, off + len - 1); // without the trailing newline
    const eq = rec.indexOf(0x3d);
    if (eq < 0) throw new Error(`${where}: PAX record without "=" at byte ${off}`);
    out.set(dec.decode(rec.subarray(0, eq)), rec.subarray(eq + 1));
    off += len;
  }
  return out;
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'link',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  '6': 'fifo',
};

export interface TarReadResult {
  diffID: string;
  size: number;
}

/**
 * Calls `onEntry` for each entry in order; `body` yields the file's bytes (only for regular files)
 * and is drained automatically if the callback does not consume it.
 */
export async function readTar(
  source: TarSource,
  onEntry: (entry: TarEntry, body: AsyncIterable<Uint8Array>) => Promise<void>,
): Promise<TarReadResult> {
  const r = new ByteReader(source);
  let globalPax = new Map<string, Uint8Array>();
  let pax = new Map<string, Uint8Array>();
  let longName: string | undefined;
  let longLink: string | undefined;
  let index = 0;
  for (;;) {
    const block = await r.read(BLOCK);
    if (block.length === 0) break; // no end-of-archive marker: tolerated as GNU tar does
    if (block.length < BLOCK) throw new Error(`tar entry #${index}: truncated header (${block.length} bytes)`);
    if (block.every((b) => b === 0)) break;
    const rawName = str(block, 0, 100);
    const where = `tar entry #${index} ${JSON.stringify(rawName)}`;
    if (!checksumOk(block)) throw new Error(`${where}: header checksum mismatch`);
    const flag = String.fromCharCode(block[156]);
    const field = (off: number, len: number, what: string) => {
      try {
        return num(block, off, len, what);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
    };
    const size = field(124, 12, 'size');

    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      let data: Buffer;
      try {
        data = Buffer.concat(await Array.fromAsync(r.chunks(size)));
        await r.skip(padding(size));
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`);
      }
      if (flag === 'x') pax = new Map([...pax, ...parsePax(data, where)]);
      else if (flag === 'g') globalPax = new Map([...globalPax, ...parsePax(data, where)]);
      else {
        const end = data.indexOf(0);
        const s = dec.decode(end < 0 ? data : data.subarray(0, end));
        if (flag === 'L') longName = s;
        else longLink = s;
      }
      continue;
    }

    const type = TYPES[flag];
    const all = new Map([...globalPax, ...pax]);
    const paxStr = (k: string) => {
      const raw = all.get(k);
      // A NUL cannot be part of a path: Go's archive/tar rejects such records too.
      if (raw && (k === 'path' || k === 'linkpath') && raw.includes(0)) throw new Error(`${where}: PAX ${k} contains a NUL byte`);
      return raw ? dec.decode(raw) : undefined;
    };
    const magic = str(block, 257, 6);
    const prefix = magic.startsWith('ustar') ? str(block, 345, 155) : '';
    let name = paxStr('path') ?? longName ?? (prefix ? `${prefix}/${rawName}` : rawName);
    const entryWhere = `tar entry ${JSON.stringify(name)}`;
    if (!type) throw new Error(`${entryWhere}: unsupported type flag ${JSON.stringify(flag)}`);
    const xattrs: Record<string, Uint8Array> = {};
    for (const [k, val] of all) if (k.startsWith('SCHILY.xattr.')) xattrs[k.slice('SCHILY.xattr.'.length)] = val;
    // Sizes and ids are non-negative integers; only mtime may be fractional or negative.
    const paxNum = (k: string, fallback: number) => {
      const s = paxStr(k);
      if (s === undefined) return fallback;
      const n = s.trim() === '' ? NaN : Number(s);
      const ok = k === 'mtime' ? Number.isFinite(n) : Number.isSafeInteger(n) && n >= 0;
      if (!ok) throw new Error(`${entryWhere}: bad PAX ${k}=${JSON.stringify(s)}`);
      return n;
    };
    while (name.length > 1 && name.endsWith('/')) name = name.slice(0, -1);
    const entry: TarEntry = {
      name,
      type,
      mode: field(100, 8, 'mode') & 0o7777,
      uid: paxNum('uid', field(108, 8, 'uid')),
      gid: paxNum('gid', field(116, 8, 'gid')),
      size: paxNum('size', size),
      mtime: paxNum('mtime', field(136, 12, 'mtime')),
      linkname: paxStr('linkpath') ?? longLink ?? str(block, 157, 100),
      devmajor: field(329, 8, 'devmajor'),
      devminor: field(337, 8, 'devminor'),
      xattrs,
    };
    pax = new Map();
    longName = longLink = undefined;
    index++;

    // Hardlinks and others carry no data even if a size is set (except regular files).
    const dataSize = type === 'file' ? entry.size : type === 'link' || type === 'symlink' || type === 'dir' ? 0 : entry.size;
    let consumed = 0;
    const body: AsyncIterable<Uint8Array> = {
      [Symbol.asyncIterator]: async function* () {
        for await (const ch of r.chunks(dataSize - consumed)) {
          consumed += ch.length;
          yield ch;
        }
      },
    };
    try {
      await onEntry(entry, body);
    } catch (e) {
      const msg = (e as Error).message;
      throw new Error(msg.includes(JSON.stringify(entry.name)) ? msg : `${entryWhere}: ${msg}`);
    }
    try {
      if (consumed < dataSize) await r.skip(dataSize - consumed);
      await r.skip(padding(dataSize));
    } catch (e) {
      throw new Error(`${entryWhere}: ${(e as Error).message}`);
    }
  }
  await r.drain();
  return { diffID: r.digest(), size: r.size };
}
