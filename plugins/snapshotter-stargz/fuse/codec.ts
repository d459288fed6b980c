// Byte layouts of the FUSE messages we read and write (little-endian, 64-bit aligned records).
import {
  ATTR_OUT_SIZE, ATTR_SIZE, DIRENT_BASE_SIZE, ENTRY_OUT_SIZE, IN_HEADER_SIZE, INIT_OUT_SIZE,
  OUT_HEADER_SIZE, S_IFMT,
} from "./abi.ts";
import type { NodeAttr } from "./types.ts";

export interface InHeader {
  len: number;
  opcode: number;
  unique: bigint;
  nodeid: bigint;
  uid: number;
  gid: number;
  pid: number;
}

/** A request as read from /dev/fuse: header plus a view of the body after it. */
export interface Request {
  header: InHeader;
  body: DataView;
  bytes: Uint8Array;
}

export function decodeRequest(bytes: Uint8Array): Request {
  if (bytes.byteLength < IN_HEADER_SIZE) {
    throw new Error(`fuse/codec.ts: request of ${bytes.byteLength} bytes is shorter than fuse_in_header`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const header: InHeader = {
    len: dv.getUint32(0, true),
    opcode: dv.getUint32(4, true),
    unique: dv.getBigUint64(8, true),
    nodeid: dv.getBigUint64(16, true),
    uid: dv.getUint32(24, true),
    gid: dv.getUint32(28, true),
    pid: dv.getUint32(32, true),
  };
  // total_extlen (offset 36) counts 8-byte units of extensions after the op body; we use none.
  const bodyLen = Math.min(header.len, bytes.byteLength) - IN_HEADER_SIZE;
  const body = new DataView(bytes.buffer, bytes.byteOffset + IN_HEADER_SIZE, bodyLen);
  return { header, body, bytes };
}

const textDecoder = new TextDecoder("utf-8", { fatal: false });
const textEncoder = new TextEncoder();

/** A NUL-terminated name starting at `offset` of the body (names are raw bytes; decoded as UTF-8). */
export function readCString(body: DataView, offset: number): string {
  const bytes = new Uint8Array(body.buffer, body.byteOffset + offset, body.byteLength - offset);
  const end = bytes.indexOf(0);
  return textDecoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

export function encodeName(name: string): Uint8Array {
  return textEncoder.encode(name);
}

/** Header + payload for a successful reply. */
export function okReply(unique: bigint, payload: Uint8Array | null): Uint8Array {
  const len = OUT_HEADER_SIZE + (payload?.byteLength ?? 0);
  const out = new Uint8Array(len);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, len, true);
  dv.setInt32(4, 0, true);
  dv.setBigUint64(8, unique, true);
  if (payload) out.set(payload, OUT_HEADER_SIZE);
  return out;
}

/** Just the out header of a successful reply whose payload of `payloadLen` bytes is written separately. */
export function replyHeader(unique: bigint, payloadLen: number): Uint8Array {
  const out = new Uint8Array(OUT_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, OUT_HEADER_SIZE + payloadLen, true);
  dv.setInt32(4, 0, true);
  dv.setBigUint64(8, unique, true);
  return out;
}

export function errorReply(unique: bigint, errno: number): Uint8Array {
  const out = new Uint8Array(OUT_HEADER_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, OUT_HEADER_SIZE, true);
  dv.setInt32(4, -errno, true);
  dv.setBigUint64(8, unique, true);
  return out;
}

/** Reply whose payload is written straight after the header by `fill`, avoiding a copy. */
export function replyWith(unique: bigint, payloadLen: number, fill: (dv: DataView, at: number) => void): Uint8Array {
  const out = new Uint8Array(OUT_HEADER_SIZE + payloadLen);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, out.byteLength, true);
  dv.setInt32(4, 0, true);
  dv.setBigUint64(8, unique, true);
  fill(dv, OUT_HEADER_SIZE);
  return out;
}

export interface Timeout {
  sec: number;
  nsec: number;
}

export function toTimeout(seconds: number): Timeout {
  const sec = Math.floor(seconds);
  return { sec, nsec: Math.round((seconds - sec) * 1e9) };
}

/** struct fuse_attr (88 bytes). `ino` is written as given (the server maps the root to 1 first). */
export function writeAttr(dv: DataView, at: number, a: NodeAttr, ino: bigint): void {
  const ctimeSec = a.ctimeSec ?? a.mtimeSec;
  const ctimeNsec = a.ctimeNsec ?? a.mtimeNsec;
  dv.setBigUint64(at, ino, true);
  dv.setBigUint64(at + 8, BigInt(a.size), true);
  dv.setBigUint64(at + 16, BigInt(a.blocks ?? Math.ceil(a.size / 512)), true);
  dv.setBigInt64(at + 24, BigInt(a.mtimeSec), true); // atime: layers carry no atime
  dv.setBigInt64(at + 32, BigInt(a.mtimeSec), true);
  dv.setBigInt64(at + 40, BigInt(ctimeSec), true);
  dv.setUint32(at + 48, a.mtimeNsec, true);
  dv.setUint32(at + 52, a.mtimeNsec, true);
  dv.setUint32(at + 56, ctimeNsec, true);
  dv.setUint32(at + 60, a.mode >>> 0, true);
  dv.setUint32(at + 64, a.nlink, true);
  dv.setUint32(at + 68, a.uid >>> 0, true);
  dv.setUint32(at + 72, a.gid >>> 0, true);
  dv.setUint32(at + 76, a.rdev >>> 0, true);
  dv.setUint32(at + 80, 4096, true); // blksize
  dv.setUint32(at + 84, 0, true); // flags
}

/** struct fuse_entry_out; nodeid 0 with a timeout is a cacheable negative entry. */
export function writeEntryOut(dv: DataView, at: number, nodeid: bigint, attr: NodeAttr | null, entry: Timeout, attrT: Timeout): void {
  dv.setBigUint64(at, nodeid, true);
  dv.setBigUint64(at + 8, 0n, true); // generation: inode numbers are never reused within a mount
  dv.setBigUint64(at + 16, BigInt(entry.sec), true);
  dv.setBigUint64(at + 24, BigInt(attrT.sec), true);
  dv.setUint32(at + 32, entry.nsec, true);
  dv.setUint32(at + 36, attrT.nsec, true);
  if (attr) writeAttr(dv, at + 40, attr, nodeid);
}

export function encodeEntryOut(unique: bigint, nodeid: bigint, attr: NodeAttr | null, entry: Timeout, attrT: Timeout): Uint8Array {
  return replyWith(unique, ENTRY_OUT_SIZE, (dv, at) => writeEntryOut(dv, at, nodeid, attr, entry, attrT));
}

export function encodeAttrOut(unique: bigint, ino: bigint, attr: NodeAttr, attrT: Timeout): Uint8Array {
  return replyWith(unique, ATTR_OUT_SIZE, (dv, at) => {
    dv.setBigUint64(at, BigInt(attrT.sec), true);
    dv.setUint32(at + 8, attrT.nsec, true);
    writeAttr(dv, at + 16, attr, ino);
  });
}

export function encodeOpenOut(unique: bigint, fh: bigint, openFlags: number, backingId = 0): Uint8Array {
  return replyWith(unique, 16, (dv, at) => {
    dv.setBigUint64(at, fh, true);
    dv.setUint32(at + 8, openFlags, true);
    dv.setInt32(at + 12, backingId, true);
  });
}

/** fuse_getxattr_out: the size answer to a zero-size probe. */
export function encodeXattrSize(unique: bigint, size: number): Uint8Array {
  return replyWith(unique, 8, (dv, at) => dv.setUint32(at, size, true));
}

export interface StatfsValues {
  blocks: number;
  files: number;
  bsize: number;
  namelen: number;
}

export function encodeStatfs(unique: bigint, s: StatfsValues): Uint8Array {
  return replyWith(unique, 80, (dv, at) => {
    dv.setBigUint64(at, BigInt(s.blocks), true);
    dv.setBigUint64(at + 8, 0n, true); // bfree
    dv.setBigUint64(at + 16, 0n, true); // bavail
    dv.setBigUint64(at + 24, BigInt(s.files), true);
    dv.setBigUint64(at + 32, 0n, true); // ffree
    dv.setUint32(at + 40, s.bsize, true);
    dv.setUint32(at + 44, s.namelen, true);
    dv.setUint32(at + 48, s.bsize, true); // frsize
  });
}

export interface InitIn {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
}

export function decodeInitIn(body: DataView): InitIn {
  const flagsLo = BigInt(body.getUint32(12, true));
  // flags2 exists only when the kernel sets FUSE_INIT_EXT (bit 30) and sent the long struct.
  const hasExt = (flagsLo & (1n << 30n)) !== 0n && body.byteLength >= 20;
  const flagsHi = hasExt ? BigInt(body.getUint32(16, true)) : 0n;
  return {
    major: body.getUint32(0, true),
    minor: body.getUint32(4, true),
    maxReadahead: body.getUint32(8, true),
    flags: flagsLo | (flagsHi << 32n),
  };
}

export interface InitOut {
  major: number;
  minor: number;
  maxReadahead: number;
  flags: bigint;
  maxBackground: number;
  congestionThreshold: number;
  maxWrite: number;
  timeGran: number;
  maxPages: number;
  maxStackDepth: number;
}

export function encodeInitOut(unique: bigint, o: InitOut): Uint8Array {
  return replyWith(unique, INIT_OUT_SIZE, (dv, at) => {
    dv.setUint32(at, o.major, true);
    dv.setUint32(at + 4, o.minor, true);
    dv.setUint32(at + 8, o.maxReadahead, true);
    dv.setUint32(at + 12, Number(o.flags & 0xffffffffn), true);
    dv.setUint16(at + 16, o.maxBackground, true);
    dv.setUint16(at + 18, o.congestionThreshold, true);
    dv.setUint32(at + 20, o.maxWrite, true);
    dv.setUint32(at + 24, o.timeGran, true);
    dv.setUint16(at + 28, o.maxPages, true);
    dv.setUint16(at + 30, 0, true); // map_alignment (DAX only)
    dv.setUint32(at + 32, Number(o.flags >> 32n), true);
    dv.setUint32(at + 36, o.maxStackDepth, true);
  });
}

/** Size of one fuse_dirent record for a name of `nameLen` bytes (8-byte aligned). */
export function direntSize(nameLen: number): number {
  return (DIRENT_BASE_SIZE + nameLen + 7) & ~7;
}

export function direntPlusSize(nameLen: number): number {
  return (ENTRY_OUT_SIZE + DIRENT_BASE_SIZE + nameLen + 7) & ~7;
}

/** fuse_dirent at `at`; `nextOff` is the cookie the kernel sends back to continue after it. */
export function writeDirent(dv: DataView, at: number, ino: bigint, nextOff: number, mode: number, name: Uint8Array): void {
  dv.setBigUint64(at, ino, true);
  dv.setBigUint64(at + 8, BigInt(nextOff), true);
  dv.setUint32(at + 16, name.byteLength, true);
  dv.setUint32(at + 20, (mode & S_IFMT) >>> 12, true);
  new Uint8Array(dv.buffer, dv.byteOffset + at + DIRENT_BASE_SIZE, name.byteLength).set(name);
}

export { ATTR_SIZE };
