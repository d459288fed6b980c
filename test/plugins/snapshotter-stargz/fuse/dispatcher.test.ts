// The protocol layer without a kernel: hand-built requests in, decoded replies out.
import { describe, expect, test } from "bun:test";
import { Errno, IN_HEADER_SIZE, Opcode } from "../../../../plugins/snapshotter-stargz/fuse/abi.ts";
import { decodeInitIn, direntPlusSize } from "../../../../plugins/snapshotter-stargz/fuse/codec.ts";
import { Dispatcher } from "../../../../plugins/snapshotter-stargz/fuse/dispatcher.ts";
import { negotiate } from "../../../../plugins/snapshotter-stargz/fuse/init.ts";
import { DEFAULT_FUSE_OPTIONS } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import { SAMPLE } from "./harness.ts";
import { createFs } from "./memfs.ts";

let nextUnique = 1n;

function request(opcode: number, nodeid: bigint, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const bytes = new Uint8Array(IN_HEADER_SIZE + body.byteLength);
  const dv = new DataView(bytes.buffer);
  dv.setUint32(0, bytes.byteLength, true);
  dv.setUint32(4, opcode, true);
  dv.setBigUint64(8, nextUnique++, true);
  dv.setBigUint64(16, nodeid, true);
  bytes.set(body, IN_HEADER_SIZE);
  return bytes;
}

function fields(...parts: (["u32", number] | ["u64", bigint] | ["str", string])[]): Uint8Array {
  const chunks = parts.map(([kind, v]) => {
    if (kind === "str") return new TextEncoder().encode(`${v}\0`);
    const b = new Uint8Array(kind === "u32" ? 4 : 8);
    const dv = new DataView(b.buffer);
    if (kind === "u32") dv.setUint32(0, v as number, true);
    else dv.setBigUint64(0, v as bigint, true);
    return b;
  });
  return Buffer.concat(chunks);
}

interface Reply {
  error: number;
  unique: bigint;
  payload: Uint8Array;
}

function setup(options = DEFAULT_FUSE_OPTIONS) {
  const replies: Reply[] = [];
  const fs = createFs({ entries: SAMPLE });
  const d = new Dispatcher(fs, { options, passthrough: false }, {
    reply(m) {
      const dv = new DataView(m.buffer, m.byteOffset);
      replies.push({ error: -dv.getInt32(4, true) || 0, unique: dv.getBigUint64(8, true), payload: m.subarray(16) });
    },
  });
  const ask = (req: Uint8Array): Reply => {
    d.handle(req);
    const r = replies.pop();
    if (!r) throw new Error("no reply");
    return r;
  };
  const ino = (parent: bigint, name: string) => {
    const r = ask(request(Opcode.LOOKUP, parent, fields(["str", name])));
    return new DataView(r.payload.buffer, r.payload.byteOffset).getBigUint64(0, true);
  };
  return { d, ask, ino, replies };
}

describe("FUSE dispatcher", () => {
  test("answers every modifying opcode EROFS and unknown opcodes ENOSYS", () => {
    const { ask } = setup();
    for (const op of [Opcode.SETATTR, Opcode.MKNOD, Opcode.MKDIR, Opcode.UNLINK, Opcode.RMDIR, Opcode.RENAME, Opcode.RENAME2,
      Opcode.LINK, Opcode.WRITE, Opcode.CREATE, Opcode.SETXATTR, Opcode.REMOVEXATTR, Opcode.SYMLINK, Opcode.FALLOCATE,
      Opcode.COPY_FILE_RANGE, Opcode.TMPFILE]) {
      expect({ op, error: ask(request(op, 1n, new Uint8Array(64))).error }).toEqual({ op, error: Errno.EROFS });
    }
    for (const op of [Opcode.GETLK, Opcode.SETLK, Opcode.BMAP, Opcode.IOCTL, Opcode.POLL, Opcode.LSEEK, Opcode.STATX, 999]) {
      expect({ op, error: ask(request(op, 1n, new Uint8Array(64))).error }).toEqual({ op, error: Errno.ENOSYS });
    }
  });

  test("OPEN for writing is EROFS; read-only OPEN keeps the page cache", () => {
    const { ask, ino } = setup();
    const hostname = ino(ino(1n, "etc"), "hostname");
    expect(ask(request(Opcode.OPEN, hostname, fields(["u32", 1], ["u32", 0]))).error).toBe(Errno.EROFS); // O_WRONLY
    expect(ask(request(Opcode.OPEN, hostname, fields(["u32", 2], ["u32", 0]))).error).toBe(Errno.EROFS); // O_RDWR
    const ok = ask(request(Opcode.OPEN, hostname, fields(["u32", 0], ["u32", 0])));
    expect(ok.error).toBe(0);
    expect(new DataView(ok.payload.buffer, ok.payload.byteOffset).getUint32(8, true) & 2).toBe(2); // FOPEN_KEEP_CACHE
  });

  test("GETXATTR: size 0 probes the length, a short buffer is ERANGE, a missing name ENODATA", () => {
    const { ask, ino } = setup();
    const tagged = ino(ino(1n, "data"), "tagged");
    const probe = ask(request(Opcode.GETXATTR, tagged, fields(["u32", 0], ["u32", 0], ["str", "user.mime"])));
    expect(new DataView(probe.payload.buffer, probe.payload.byteOffset).getUint32(0, true)).toBe(10);
    expect(ask(request(Opcode.GETXATTR, tagged, fields(["u32", 4], ["u32", 0], ["str", "user.mime"]))).error).toBe(Errno.ERANGE);
    const full = ask(request(Opcode.GETXATTR, tagged, fields(["u32", 100], ["u32", 0], ["str", "user.mime"])));
    expect(new TextDecoder().decode(full.payload)).toBe("text/plain");
    expect(ask(request(Opcode.GETXATTR, tagged, fields(["u32", 100], ["u32", 0], ["str", "user.none"]))).error).toBe(Errno.ENODATA);
    const list = ask(request(Opcode.LISTXATTR, tagged, fields(["u32", 100], ["u32", 0])));
    expect(new TextDecoder().decode(list.payload)).toBe("user.mime\0user.empty\0trusted.note\0");
    expect(ask(request(Opcode.LISTXATTR, tagged, fields(["u32", 5], ["u32", 0]))).error).toBe(Errno.ERANGE);
  });

  test("READDIRPLUS pages through a directory with resumable cookies", () => {
    const { ask, ino } = setup();
    const bin = ino(1n, "bin");
    const names: string[] = [];
    let offset = 0n;
    for (let guard = 0; guard < 20; guard++) {
      // A buffer for about two entries forces several rounds.
      const r = ask(request(Opcode.READDIRPLUS, bin, fields(["u64", 0n], ["u64", offset], ["u32", 2 * direntPlusSize(8)], ["u32", 0], ["u64", 0n], ["u32", 0], ["u32", 0])));
      expect(r.error).toBe(0);
      if (r.payload.byteLength === 0) break;
      const dv = new DataView(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength);
      for (let at = 0; at < r.payload.byteLength;) {
        const nameLen = dv.getUint32(at + 128 + 16, true);
        names.push(new TextDecoder().decode(r.payload.subarray(at + 128 + 24, at + 128 + 24 + nameLen)));
        offset = dv.getBigUint64(at + 128 + 8, true);
        at += direntPlusSize(nameLen);
      }
    }
    expect(names).toEqual([".", "..", "su", "sh", "busybox", "hard"]);
  });

  test("a negative lookup is a cacheable entry with nodeid 0; with no timeout it is ENOENT", () => {
    const cached = setup().ask(request(Opcode.LOOKUP, 1n, fields(["str", "missing"])));
    expect(cached.error).toBe(0);
    const dv = new DataView(cached.payload.buffer, cached.payload.byteOffset);
    expect(dv.getBigUint64(0, true)).toBe(0n);
    expect(dv.getBigUint64(16, true)).toBeGreaterThan(0n);
    const plain = setup({ ...DEFAULT_FUSE_OPTIONS, entryTimeoutSec: 0 }).ask(request(Opcode.LOOKUP, 1n, fields(["str", "missing"])));
    expect(plain.error).toBe(Errno.ENOENT);
  });

  test("an INTERRUPT answers a pending slow READ with EINTR exactly once", async () => {
    const { d, ino, replies } = setup();
    const slow = ino(ino(1n, "data"), "slow");
    const read = request(Opcode.READ, slow, fields(["u64", 0n], ["u64", 0n], ["u32", 4096], ["u32", 0], ["u64", 0n], ["u32", 0], ["u32", 0]));
    const unique = new DataView(read.buffer).getBigUint64(8, true);
    d.handle(read);
    expect(d.inFlight).toBe(1);
    d.handle(request(Opcode.INTERRUPT, 0n, fields(["u64", unique])));
    expect(replies).toEqual([{ error: Errno.EINTR, unique, payload: new Uint8Array(0) }]);
    expect(d.inFlight).toBe(0);
  });

  test("INIT asks for async reads, readdirplus, 1 MiB requests, symlink caching", () => {
    const body = fields(["u32", 7], ["u32", 45], ["u32", 131072], ["u32", 0xffffffff], ["u32", 0xffffffff]);
    const { out, negotiated } = negotiate(decodeInitIn(new DataView(body.buffer)), false);
    expect(out.minor).toBe(45);
    expect(out.maxWrite).toBeGreaterThanOrEqual(1 << 20);
    expect(out.maxPages * 4096).toBeGreaterThanOrEqual(1 << 20);
    for (const bit of [0n, 13n, 14n, 18n, 22n, 23n]) expect((negotiated.flags >> bit) & 1n).toBe(1n);
    expect(negotiated.passthrough).toBe(false);
    expect(negotiate(decodeInitIn(new DataView(body.buffer)), true).negotiated.passthrough).toBe(true);
  });
});
