// The raw protocol layer: decodes one request, calls the read-only tree, encodes the answer.
// It knows nothing of threads or of /dev/fuse; `reply` is how answers leave.
import {
  Errno, FOPEN_CACHE_DIR, FOPEN_KEEP_CACHE, FOPEN_NOFLUSH, FOPEN_PASSTHROUGH, FUSE_ROOT_ID, IN_HEADER_SIZE, O_ACCMODE, O_RDONLY, Opcode,
  S_IFDIR, S_IFMT, WRITE_OPCODES, opcodeName,
} from "./abi.ts";
import {
  decodeRequest, direntPlusSize, direntSize, encodeAttrOut, encodeEntryOut, encodeName, encodeOpenOut,
  encodeStatfs, encodeXattrSize, errorReply, okReply, readCString, replyHeader, replyWith, toTimeout, writeDirent,
  writeEntryOut, type Request, type Timeout,
} from "./codec.ts";
import { FsError, type FileSpan, type FuseOptions, type NodeAttr, type ReadOnlyFs } from "./types.ts";

export interface DispatcherHooks {
  /** Writes one complete reply message to the device. */
  reply(message: Uint8Array): void;
  /** Writes a reply given as header + payload (READ data), avoiding a copy; defaults to concatenating. */
  replyParts?(header: Uint8Array, payload: Uint8Array): void;
  /** Writes a READ reply whose data is in local files (splice); false when it wrote nothing, so the copy path answers. */
  replyFiles?(header: Uint8Array, spans: FileSpan[]): boolean;
  onAccess?(ino: bigint, path: string | undefined): void;
  onError?(message: string): void;
  /** Registers a local file with the kernel for passthrough; returns a backing id or a negative errno. */
  openBacking?(path: string): number;
  /** Counters: called once per answered request with the errno sent (0 for success). */
  onDone?(opcode: number, errno: number, bytesRead: number): void;
}

export interface DispatcherConfig {
  options: FuseOptions;
  passthrough: boolean;
  /**
   * Answer OPEN ENOSYS when nothing needs it (no access recording, no passthrough, no fs.open):
   * the kernel then opens files without asking and sends no RELEASE, with page cache kept
   * ("zero-message open"); only when the kernel offers it (Negotiated.noOpen).
   */
  noOpen?: boolean;
  /** The same for OPENDIR (Negotiated.noOpendir). */
  noOpendir?: boolean;
}

/** Requests the kernel expects no answer to. */
const NO_REPLY: ReadonlySet<number> = new Set([Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT, Opcode.NOTIFY_REPLY]);

/** Smallest body of each request whose fields we read (the fuse_*_in structs of fuse.h). */
const MIN_BODY: Readonly<Record<number, number>> = {
  [Opcode.LOOKUP]: 1, // name + NUL
  [Opcode.OPEN]: 8, // fuse_open_in
  [Opcode.READ]: 24, // fuse_read_in up to size (7.8 layout)
  [Opcode.READDIR]: 24,
  [Opcode.READDIRPLUS]: 24,
  [Opcode.ACCESS]: 8, // fuse_access_in
  [Opcode.GETXATTR]: 9, // fuse_getxattr_in + name + NUL
  [Opcode.LISTXATTR]: 8,
  [Opcode.INTERRUPT]: 8, // fuse_interrupt_in
};

/** Where the NUL-terminated name of a request starts in its body. */
const NAME_AT: Readonly<Record<number, number>> = { [Opcode.LOOKUP]: 0, [Opcode.GETXATTR]: 8 };

/** Far above any READ the kernel sends (max_pages pages); larger sizes are refused, not allocated. */
const MAX_READ_SIZE = 64 << 20;

/** Why a request cannot be decoded, or undefined when its header and body are well formed. */
export function malformed(bytes: Uint8Array): string | undefined {
  if (bytes.byteLength < IN_HEADER_SIZE) return `request of ${bytes.byteLength} bytes is shorter than the ${IN_HEADER_SIZE}-byte header`;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const len = dv.getUint32(0, true);
  if (len < IN_HEADER_SIZE) return `header length ${len} is shorter than the header itself`;
  if (len > bytes.byteLength) return `header length ${len} but only ${bytes.byteLength} bytes arrived`;
  const opcode = dv.getUint32(4, true);
  const bodyLen = len - IN_HEADER_SIZE;
  const min = MIN_BODY[opcode] ?? 0;
  if (bodyLen < min) return `body of ${bodyLen} bytes, ${opcodeName[opcode] ?? opcode} needs ${min}`;
  const nameAt = NAME_AT[opcode];
  if (nameAt !== undefined && bytes.subarray(IN_HEADER_SIZE + nameAt, len).indexOf(0) < 0) return "name is not NUL-terminated";
  if (opcode === Opcode.READ && dv.getUint32(IN_HEADER_SIZE + 16, true) > MAX_READ_SIZE) {
    return `read of ${dv.getUint32(IN_HEADER_SIZE + 16, true)} bytes exceeds ${MAX_READ_SIZE}`;
  }
  return undefined;
}

/** Offset and size of a READ (fuse_read_in: fh, offset, size, ...). */
function readArgs(req: Request): { offset: number; size: number } {
  return { offset: Number(req.body.getBigUint64(8, true)), size: req.body.getUint32(16, true) };
}

const DIR_ENTRY_DOT = encodeName(".");
const DIR_ENTRY_DOTDOT = encodeName("..");

export class Dispatcher {
  private readonly entryT: Timeout;
  private readonly attrT: Timeout;
  /** uniques of READs still awaiting the tree; an INTERRUPT answers them EINTR early. */
  private readonly pending = new Set<bigint>();
  /** One passthrough decision per inode (the kernel rejects mixing backing files for one inode). */
  private readonly backingIds = new Map<bigint, number>();

  constructor(private readonly fs: ReadOnlyFs, private readonly config: DispatcherConfig, private readonly hooks: DispatcherHooks) {
    this.entryT = toTimeout(config.options.entryTimeoutSec);
    this.attrT = toTimeout(config.options.attrTimeoutSec);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /**
   * Handles one request; slow reads complete later, everything else before this returns. Never
   * throws: a malformed request is answered EINVAL (or dropped when it has no answer), a failing
   * tree EIO, both reported through onError.
   */
  handle(bytes: Uint8Array): void {
    const why = malformed(bytes);
    if (why) return this.refuse(bytes, why);
    const req = decodeRequest(bytes);
    try {
      this.dispatch(req);
    } catch (e) {
      // Only a bug gets here (the tree's errors are answered inside): keep the kernel's request answered.
      this.hooks.onError?.(`fuse: ${opcodeName[req.header.opcode] ?? req.header.opcode} unique=${req.header.unique}: ${e instanceof Error ? e.message : String(e)}`);
      if (!NO_REPLY.has(req.header.opcode) && req.header.opcode !== Opcode.READ) {
        this.hooks.reply(errorReply(req.header.unique, Errno.EIO));
        this.hooks.onDone?.(req.header.opcode, Errno.EIO, 0);
      }
    }
  }

  /**
   * Answers `bytes` now when that needs no waiting, for the thread that reads the device: every
   * request but a READ the tree cannot serve synchronously (`readSync` missing or declining),
   * INTERRUPT (its READ sits with a worker), and OPEN when `forwardOpen` (access is recorded by
   * the workers, whose flush orders the reports). Returns false, having done nothing, for a
   * request to hand over. `bytes` is not kept after the call.
   */
  handleNow(bytes: Uint8Array, forwardOpen: boolean): boolean {
    if (bytes.byteLength < IN_HEADER_SIZE) return false;
    const opcode = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(4, true);
    if (opcode === Opcode.INTERRUPT || (opcode === Opcode.OPEN && forwardOpen)) return false;
    if (opcode !== Opcode.READ) {
      this.handle(bytes);
      return true;
    }
    if (!this.fs.readSync || malformed(bytes)) return false;
    const req = decodeRequest(bytes);
    const { offset, size } = readArgs(req);
    let data: Uint8Array | undefined;
    try {
      if (this.hooks.replyFiles && this.fs.readFiles && this.config.options.splice) {
        const spans = this.fs.readFiles(req.header.nodeid, offset, size);
        const length = spans?.reduce((n, s) => n + s.length, 0) ?? 0;
        if (spans && length <= size && this.hooks.replyFiles(replyHeader(req.header.unique, length), spans)) {
          this.hooks.onDone?.(Opcode.READ, 0, length);
          return true;
        }
      }
      data = this.fs.readSync(req.header.nodeid, offset, size);
    } catch (e) {
      const errno = this.errnoOf(e, req);
      this.send(Opcode.READ, errorReply(req.header.unique, errno));
      this.hooks.onDone?.(Opcode.READ, errno, 0);
      return true;
    }
    if (data === undefined) return false;
    this.hooks.onDone?.(Opcode.READ, 0, this.replyRead(req.header.unique, data, size));
    this.fs.readDone?.(data);
    return true;
  }

  /** Answers a request that cannot be decoded: EINVAL when it has a unique and expects an answer. */
  private refuse(bytes: Uint8Array, why: string): void {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const opcode = bytes.byteLength >= 8 ? dv.getUint32(4, true) : undefined;
    const unique = bytes.byteLength >= 16 ? dv.getBigUint64(8, true) : undefined;
    const name = opcode === undefined ? "request" : `${opcodeName[opcode] ?? `opcode ${opcode}`}`;
    const answered = opcode !== undefined && !NO_REPLY.has(opcode) && unique !== undefined;
    this.hooks.onError?.(`fuse: malformed ${name}${unique === undefined ? "" : ` unique=${unique}`}: ${why}; ${answered ? "answered EINVAL" : "dropped"}`);
    if (answered) this.send(opcode, errorReply(unique, Errno.EINVAL));
    // Everything but the answerless opcodes was counted in flight by the reader thread.
    if (opcode === undefined || !NO_REPLY.has(opcode)) this.hooks.onDone?.(opcode ?? 0, Errno.EINVAL, 0);
  }

  private dispatch(req: Request): void {
    const { opcode, unique } = req.header;
    if (this.config.options.debug) {
      console.error(`fuse: <- ${opcodeName[opcode] ?? opcode} unique=${unique} node=${req.header.nodeid} len=${req.header.len}`);
    }
    if (opcode === Opcode.FORGET || opcode === Opcode.BATCH_FORGET || opcode === Opcode.NOTIFY_REPLY) return; // stateless tree: nothing to free, no reply
    if (opcode === Opcode.INTERRUPT) return this.interrupt(req);
    if (opcode === Opcode.READ) {
      this.read(req).catch((e) => this.hooks.onError?.(`fuse: READ unique=${unique}: ${e instanceof Error ? e.message : String(e)}`));
      return;
    }
    let message: Uint8Array;
    try {
      message = this.answer(req);
    } catch (e) {
      message = errorReply(unique, this.errnoOf(e, req));
    }
    this.send(opcode, message);
    this.hooks.onDone?.(opcode, -new DataView(message.buffer).getInt32(4, true), 0);
  }

  private send(opcode: number, message: Uint8Array): void {
    if (this.config.options.debug) {
      const dv = new DataView(message.buffer, message.byteOffset);
      console.error(`fuse: -> ${opcodeName[opcode] ?? opcode} unique=${dv.getBigUint64(8, true)} error=${dv.getInt32(4, true)} len=${message.byteLength}`);
    }
    this.hooks.reply(message);
  }

  private errnoOf(e: unknown, req: Request): number {
    if (e instanceof FsError) return e.errno;
    const op = opcodeName[req.header.opcode] ?? String(req.header.opcode);
    this.hooks.onError?.(`fuse: ${op} on inode ${req.header.nodeid} failed: ${e instanceof Error ? e.message : String(e)}`);
    return Errno.EIO;
  }

  private attrOf(ino: bigint): NodeAttr {
    return ino === FUSE_ROOT_ID ? this.fs.root() : this.fs.getattr(ino);
  }

  private answer(req: Request): Uint8Array {
    const { opcode, unique, nodeid } = req.header;
    const body = req.body;
    switch (opcode) {
      case Opcode.LOOKUP: {
        const name = readCString(body, 0);
        const child = this.fs.lookup(nodeid, name);
        if (!child) {
          // A negative entry with a timeout lets the kernel cache "does not exist" (immutable layer).
          if (this.entryT.sec > 0 || this.entryT.nsec > 0) return encodeEntryOut(unique, 0n, null, this.entryT, this.attrT);
          return errorReply(unique, Errno.ENOENT);
        }
        return encodeEntryOut(unique, BigInt(child.ino), child, this.entryT, this.attrT);
      }
      case Opcode.GETATTR:
        return encodeAttrOut(unique, nodeid, this.attrOf(nodeid), this.attrT);
      case Opcode.READLINK:
        return okReply(unique, this.fs.readlink(nodeid));
      case Opcode.OPEN: {
        const flags = body.getUint32(0, true);
        if ((flags & O_ACCMODE) !== O_RDONLY) return errorReply(unique, Errno.EROFS);
        if (this.config.noOpen && !this.config.passthrough && !this.hooks.onAccess && !this.fs.open) return errorReply(unique, Errno.ENOSYS);
        this.fs.open?.(nodeid);
        this.hooks.onAccess?.(nodeid, this.fs.pathOf?.(nodeid));
        const keep = this.config.options.keepCache ? FOPEN_KEEP_CACHE : 0;
        const backingId = this.backingFor(nodeid);
        // The kernel rejects page-cache flags (KEEP_CACHE) next to FOPEN_PASSTHROUGH: reads bypass us entirely.
        if (backingId > 0) return encodeOpenOut(unique, 0n, FOPEN_PASSTHROUGH | FOPEN_NOFLUSH, backingId);
        return encodeOpenOut(unique, 0n, keep | FOPEN_NOFLUSH);
      }
      case Opcode.OPENDIR: {
        const attr = this.attrOf(nodeid);
        if ((attr.mode & S_IFMT) !== S_IFDIR) return errorReply(unique, Errno.ENOTDIR);
        // The kernel's defaults without OPENDIR are these same flags (keep cache, cache dir).
        if (this.config.noOpendir) return errorReply(unique, Errno.ENOSYS);
        return encodeOpenOut(unique, 0n, FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR);
      }
      case Opcode.READDIR:
        return this.readdir(req, false);
      case Opcode.READDIRPLUS:
        return this.readdir(req, true);
      case Opcode.FLUSH:
        // Nothing is ever dirty here; ENOSYS makes the kernel stop sending FLUSH on every close(2)
        // (a round trip per file saved), which is the documented way to decline it.
        return errorReply(unique, Errno.ENOSYS);
      case Opcode.RELEASE:
      case Opcode.RELEASEDIR:
      case Opcode.FSYNC:
      case Opcode.FSYNCDIR:
        return okReply(unique, null);
      case Opcode.ACCESS: {
        // Only sent without default_permissions; a read-only tree refuses write access.
        const mask = body.getUint32(0, true);
        return (mask & 2) !== 0 ? errorReply(unique, Errno.EROFS) : okReply(unique, null);
      }
      case Opcode.STATFS: {
        const s = this.fs.statfs?.();
        return encodeStatfs(unique, { blocks: s?.blocks ?? 0, files: s?.files ?? 0, bsize: s?.bsize ?? 4096, namelen: s?.namelen ?? 255 });
      }
      case Opcode.GETXATTR: {
        const size = body.getUint32(0, true);
        const name = readCString(body, 8);
        const value = this.fs.getxattr(nodeid, name);
        if (!value) return errorReply(unique, Errno.ENODATA);
        return this.sized(unique, size, value);
      }
      case Opcode.LISTXATTR: {
        const size = body.getUint32(0, true);
        const names = this.fs.listxattr(nodeid);
        const encoded = encodeName(names.map((n) => `${n}\0`).join(""));
        return this.sized(unique, size, encoded);
      }
      case Opcode.DESTROY:
        return okReply(unique, null);
      case Opcode.INIT:
        // The reader thread answers INIT before any worker starts; a second INIT is a protocol error.
        return errorReply(unique, Errno.EIO);
      default:
        return errorReply(unique, WRITE_OPCODES.has(opcode) ? Errno.EROFS : Errno.ENOSYS);
    }
  }

  /** xattr answers: size 0 asks for the length; a too-small buffer is ERANGE. */
  private sized(unique: bigint, size: number, value: Uint8Array): Uint8Array {
    if (size === 0) return encodeXattrSize(unique, value.byteLength);
    if (value.byteLength > size) return errorReply(unique, Errno.ERANGE);
    return okReply(unique, value);
  }

  private backingFor(ino: bigint): number {
    if (!this.config.passthrough || !this.fs.backingFile || !this.hooks.openBacking) return 0;
    const known = this.backingIds.get(ino);
    if (known !== undefined) return known;
    const file = this.fs.backingFile(ino);
    let id = 0;
    if (file) {
      id = this.hooks.openBacking(file.path);
      if (id < 0) {
        this.hooks.onError?.(`fuse: passthrough for inode ${ino} (${file.path}) refused by the kernel: errno ${-id}`);
        id = 0;
      }
    }
    this.backingIds.set(ino, id);
    return id;
  }

  private readdir(req: Request, plus: boolean): Uint8Array {
    const { unique, nodeid } = req.header;
    const offset = Number(req.body.getBigUint64(8, true));
    const size = req.body.getUint32(16, true);
    const children = this.fs.readdir(nodeid);
    // Cookie i means "continue at entry i" of [".", "..", ...children].
    const total = children.length + 2;
    const parts: { ino: bigint; mode: number; name: Uint8Array; attr: NodeAttr | null }[] = [];
    let used = 0;
    for (let i = offset; i < total; i++) {
      let ino: bigint;
      let mode: number;
      let name: Uint8Array;
      let attr: NodeAttr | null = null;
      if (i < 2) {
        ino = nodeid; // ".." reports our own inode: the kernel fills the real parent itself
        mode = S_IFDIR;
        name = i === 0 ? DIR_ENTRY_DOT : DIR_ENTRY_DOTDOT;
      } else {
        const c = children[i - 2];
        ino = BigInt(c.ino);
        mode = c.mode;
        name = encodeName(c.name);
        if (plus) attr = this.fs.getattr(ino);
      }
      const rec = plus ? direntPlusSize(name.byteLength) : direntSize(name.byteLength);
      if (used + rec > size) break;
      used += rec;
      parts.push({ ino, mode, name, attr });
    }
    return replyWith(unique, used, (dv, start) => {
      let at = start;
      let cookie = offset;
      for (const p of parts) {
        cookie++;
        if (plus) {
          // nodeid 0 for "." / "..": the kernel must not take lookup references on them.
          writeEntryOut(dv, at, p.attr ? p.ino : 0n, p.attr, this.entryT, this.attrT);
          writeDirent(dv, at + 128, p.ino, cookie, p.mode, p.name);
          at += direntPlusSize(p.name.byteLength);
        } else {
          writeDirent(dv, at, p.ino, cookie, p.mode, p.name);
          at += direntSize(p.name.byteLength);
        }
      }
    });
  }

  private async read(req: Request): Promise<void> {
    const { unique, nodeid } = req.header;
    const { offset, size } = readArgs(req);
    this.pending.add(unique);
    let data: Uint8Array | undefined;
    let errno = 0;
    try {
      data = await this.fs.read(nodeid, offset, size);
    } catch (e) {
      errno = this.errnoOf(e, req);
    }
    // Already answered EINTR by an INTERRUPT: the kernel no longer knows this unique.
    if (this.pending.delete(unique)) {
      let bytes = 0;
      if (data) bytes = this.replyRead(unique, data, size);
      else this.send(Opcode.READ, errorReply(unique, errno));
      this.hooks.onDone?.(Opcode.READ, errno, bytes);
    }
    if (data) this.fs.readDone?.(data);
  }

  /** Answers READ `unique` with `data` (cut to `size`), header and payload in one write; returns the bytes sent. */
  private replyRead(unique: bigint, data: Uint8Array, size: number): number {
    const payload = data.byteLength > size ? data.subarray(0, size) : data;
    if (this.hooks.replyParts) {
      if (this.config.options.debug) console.error(`fuse: -> READ unique=${unique} bytes=${payload.byteLength}`);
      this.hooks.replyParts(replyHeader(unique, payload.byteLength), payload);
    } else {
      this.send(Opcode.READ, okReply(unique, payload));
    }
    return payload.byteLength;
  }

  private interrupt(req: Request): void {
    const target = req.body.getBigUint64(0, true);
    if (this.pending.delete(target)) {
      this.send(Opcode.INTERRUPT, errorReply(target, Errno.EINTR));
      this.hooks.onDone?.(Opcode.READ, Errno.EINTR, 0);
    }
  }
}
