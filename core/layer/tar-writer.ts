// Deterministic tar headers: ustar when the fields fit, a PAX record before it when they do not
// (long names, big numbers, xattrs). No user/group names, so equal trees give equal bytes.
import { BLOCK, TYPE_FLAGS, padding, type TarEntry } from './tar-header.ts';

const enc = new TextEncoder();

function putStr(block: Uint8Array, off: number, len: number, s: string | Uint8Array): void {
  const b = typeof s === 'string' ? enc.encode(s) : s;
  block.set(b.subarray(0, len), off);
}

/** Octal, NUL-terminated, zero padded; false when the value does not fit. */
function putOctal(block: Uint8Array, off: number, len: number, n: number): boolean {
  const s = Math.trunc(n).toString(8);
  if (n < 0 || s.length > len - 1) return false;
  putStr(block, off, len, s.padStart(len - 1, '0'));
  return true;
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  // "LEN key=value\n" where LEN counts itself: iterate until its digit count is stable.
  const rest = enc.encode(` ${key}=`).length + value.length + 1;
  let len = rest + 1;
  while (String(len).length + rest !== len) len = String(len).length + rest;
  return Buffer.concat([enc.encode(`${len} ${key}=`), value, enc.encode('\n')]);
}

/** Splits a long name into ustar prefix/name at a slash, if possible. */
function splitUstar(name: string): [string, string] | undefined {
  const bytes = enc.encode(name);
  if (bytes.length <= 100) return ['', name];
  if (bytes.length > 256) return undefined;
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue;
    const p = name.slice(0, i);
    const n = name.slice(i + 1);
    if (enc.encode(p).length <= 155 && enc.encode(n).length <= 100 && n.length > 0) return [p, n];
  }
  return undefined;
}

function ustarBlock(e: TarEntry, name: string, prefix: string, linkname: string, typeflag: string, paxNeeded: string[]): Uint8Array {
  const block = new Uint8Array(BLOCK);
  putStr(block, 0, 100, name);
  putOctal(block, 100, 8, e.mode & 0o7777);
  if (!putOctal(block, 108, 8, e.uid)) paxNeeded.push('uid');
  if (!putOctal(block, 116, 8, e.gid)) paxNeeded.push('gid');
  if (!putOctal(block, 124, 12, e.size)) paxNeeded.push('size');
  if (!putOctal(block, 136, 12, Math.max(0, Math.floor(e.mtime)))) paxNeeded.push('mtime');
  block[156] = typeflag.charCodeAt(0);
  putStr(block, 157, 100, linkname);
  putStr(block, 257, 6, 'ustar\0');
  putStr(block, 263, 2, '00');
  if (e.type === 'char' || e.type === 'block') {
    putOctal(block, 329, 8, e.devmajor);
    putOctal(block, 337, 8, e.devminor);
  }
  putStr(block, 345, 155, prefix);
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of block) sum += b;
  putStr(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** Header blocks (PAX extension first when needed) for one entry; data and padding follow. */
export function encodeHeader(e: TarEntry): Uint8Array {
  const fullName = e.type === 'dir' ? `${e.name}/` : e.name;
  const records: Uint8Array[] = [];
  const split = splitUstar(fullName);
  let [prefix, name] = split ?? ['', fullName.slice(0, 100)];
  if (!split) records.push(paxRecord('path', enc.encode(fullName)));
  let linkname = e.linkname;
  if (enc.encode(linkname).length > 100) {
    records.push(paxRecord('linkpath', enc.encode(linkname)));
    linkname = linkname.slice(0, 100);
  }
  const big: string[] = [];
  const main = ustarBlock(e, name, prefix, linkname, TYPE_FLAGS[e.type], big);
  for (const k of big) records.push(paxRecord(k, enc.encode(String(k === 'mtime' ? Math.floor(e.mtime) : e[k as 'uid' | 'gid' | 'size']))));
  for (const k of Object.keys(e.xattrs).sort()) records.push(paxRecord(`SCHILY.xattr.${k}`, e.xattrs[k]));
  if (records.length === 0) return main;
  const data = Buffer.concat(records);
  const base = name.split('/').pop() || 'entry';
  const paxEntry: TarEntry = { ...e, uid: 0, gid: 0, mode: 0o644, name: `PaxHeaders.0/${base}`.slice(0, 100), type: 'file', size: data.length, linkname: '', xattrs: {} };
  const paxHeader = ustarBlock(paxEntry, paxEntry.name, '', '', 'x', []);
  return Buffer.concat([paxHeader, data, new Uint8Array(padding(data.length)), main]);
}

export const END_OF_ARCHIVE = new Uint8Array(BLOCK * 2);
export { padding };
