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

function setup(options = DEFAULT_FUSE_OPTIONS, inline = false) {
  const replies: Reply[] = [];
  const errors: string[] = [];
  const done: { opcode: number; errno: number }[] = [];
  const fs = createFs({ entries: SAMPLE }, inline);
  const d = new Dispatcher(fs, { options, passthrough: false }, {
    reply(m) {
      const dv = new DataView(m.buffer, m.byteOffset);
      replies.push({ error: -dv.getInt32(4, true) || 0, unique: dv.getBigUint64(8, true), payload: m.subarray(16) });
    },
    onError: (m) => errors.push(m),
    onDone: (opcode, errno) => done.push({ opcode, errno }),
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
  return { d, ask, ino, replies, errors, done };
}

describe("FUSE dispatcher", () => {
  test("zero-message open: OPEN and OPENDIR are ENOSYS unless accesses are recorded", () => {
    const opened = (noOpen: boolean, record: boolean) => {
      const replies: number[] = [];
      const fs = createFs({ entries: SAMPLE });
      const d = new Dispatcher(fs, { options: DEFAULT_FUSE_OPTIONS, passthrough: false, noOpen, noOpendir: noOpen }, {
        reply: (m) => replies.push(-new DataView(m.buffer, m.byteOffset).getInt32(4, true) || 0),
        onAccess: record ? () => {} : undefined,
      });
      d.handle(request(Opcode.OPEN, 2n, fields(["u32", 0], ["u32", 0])));
      d.handle(request(Opcode.OPENDIR, 1n, fields(["u32", 0], ["u32", 0])));
      return replies;
    };
    expect(opened(true, false)).toEqual([Errno.ENOSYS, Errno.ENOSYS]);
    expect(opened(true, true)).toEqual([0, Errno.ENOSYS]); // recording needs every OPEN
    expect(opened(false, false)).toEqual([0, 0]);
  });

  test("handleNow answers what needs no waiting and hands back slow reads, INTERRUPT and recorded OPENs", () => {
    const { d, ino, replies } = setup(DEFAULT_FUSE_OPTIONS, true);
    const etc = ino(1n, "etc");
    const hostname = ino(etc, "hostname");
    const data = ino(1n, "data");
    const slow = ino(data, "slow");
    const read = (node: bigint) => request(Opcode.READ, node, fields(["u64", 0n], ["u64", 0n], ["u32", 4096], ["u32", 0], ["u64", 0n], ["u32", 0], ["u32", 0]));
    const open = (node: bigint) => request(Opcode.OPEN, node, fields(["u32", 0], ["u32", 0]));
    replies.length = 0;
    expect(d.handleNow(read(hostname), false)).toBe(true);
    expect(replies).toHaveLength(1);
    expect(new TextDecoder().decode(replies[0].payload)).toBe("edgebuild\n");
    expect(d.handleNow(read(slow), false)).toBe(false); // readSync declines: a worker awaits it
    expect(d.handleNow(request(Opcode.INTERRUPT, 0n, fields(["u64", 5n])), false)).toBe(false);
    expect(d.handleNow(open(hostname), true)).toBe(false); // access recording: the workers open
    expect(replies).toHaveLength(1);
    expect(d.handleNow(open(hostname), false)).toBe(true);
    expect(d.handleNow(request(Opcode.GETATTR, hostname, fields(["u32", 0], ["u32", 0], ["u64", 0n])), false)).toBe(true);
    expect(replies.map((r) => r.error)).toEqual([0, 0, 0]);
    // Without readSync every READ goes to a worker.
    expect(setup().d.handleNow(read(hostname), false)).toBe(false);
  });

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
    // FOPEN_NOFLUSH: without it a SIGKILLed server closing a file on its own mount hangs in exit (FLUSH is uninterruptible).
    expect(new DataView(ok.payload.buffer, ok.payload.byteOffset).getUint32(8, true) & 32).toBe(32);
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

/** A request whose header claims `len` bytes (default: the real length). */
function withLen(bytes: Uint8Array, len: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(0, len, true);
  return copy;
}

const uniqueOf = (req: Uint8Array) => new DataView(req.buffer, req.byteOffset).getBigUint64(8, true);

describe("FUSE dispatcher: malformed requests", () => {
  test("a request shorter than the header is answered EINVAL when it carries a unique, dropped when not", () => {
    const { d, replies, errors, done } = setup();
    const short = request(Opcode.GETATTR, 1n).subarray(0, 24);
    expect(() => d.handle(short)).not.toThrow();
    expect(replies).toEqual([{ error: Errno.EINVAL, unique: uniqueOf(short), payload: new Uint8Array(0) }]);
    expect(() => d.handle(new Uint8Array(6))).not.toThrow();
    expect(replies).toHaveLength(1);
    expect(errors).toHaveLength(2);
    expect(errors[0]).toContain("shorter than the 40-byte header");
    expect(done.map((x) => x.errno)).toEqual([Errno.EINVAL, Errno.EINVAL]); // in-flight slots released
  });

  test("header length below 40 or beyond the bytes read is EINVAL, not a read past the buffer", () => {
    const { d, replies, errors } = setup();
    const lookup = request(Opcode.LOOKUP, 1n, fields(["str", "etc"]));
    for (const len of [0, 16, 39, lookup.byteLength + 1, 1 << 30]) {
      const bad = withLen(lookup, len);
      d.handle(bad);
      expect({ len, reply: replies.pop() }).toEqual({ len, reply: { error: Errno.EINVAL, unique: uniqueOf(bad), payload: new Uint8Array(0) } });
    }
    expect(errors.every((e) => e.includes("malformed LOOKUP") && e.includes("EINVAL"))).toBe(true);
    // Bytes past the header's length are ignored: the name ends where the header says.
    const trailing = new Uint8Array(lookup.byteLength + 16).fill(0x41);
    trailing.set(lookup);
    expect(() => d.handle(trailing)).not.toThrow();
    expect(replies.pop()?.error).toBe(0);
  });

  test("short bodies are EINVAL for every opcode that reads fields", async () => {
    const { d, replies, errors, done } = setup();
    const cases: [number, Uint8Array][] = [
      [Opcode.LOOKUP, new Uint8Array(0)],
      [Opcode.LOOKUP, new TextEncoder().encode("no-nul")],
      [Opcode.OPEN, new Uint8Array(4)],
      [Opcode.READ, new Uint8Array(8)],
      [Opcode.READ, new Uint8Array(23)],
      [Opcode.READDIR, new Uint8Array(16)],
      [Opcode.READDIRPLUS, new Uint8Array(0)],
      [Opcode.ACCESS, new Uint8Array(2)],
      [Opcode.GETXATTR, fields(["u32", 100], ["u32", 0])],
      [Opcode.GETXATTR, Buffer.concat([fields(["u32", 100], ["u32", 0]), new TextEncoder().encode("user.mime")])],
      [Opcode.LISTXATTR, new Uint8Array(4)],
    ];
    for (const [op, body] of cases) {
      const req = request(op, 1n, body);
      expect(() => d.handle(req)).not.toThrow();
      await Bun.sleep(0);
      expect({ op, len: body.byteLength, reply: replies.pop() }).toEqual({ op, len: body.byteLength, reply: { error: Errno.EINVAL, unique: uniqueOf(req), payload: new Uint8Array(0) } });
    }
    expect(errors).toHaveLength(cases.length);
    expect(done).toHaveLength(cases.length);
    expect(d.inFlight).toBe(0);
  });

  test("a READ larger than any kernel sends is refused before anything is allocated", async () => {
    const { d, ino, replies } = setup();
    const hostname = ino(ino(1n, "etc"), "hostname");
    const req = request(Opcode.READ, hostname, fields(["u64", 0n], ["u64", 0n], ["u32", 0xffffffff], ["u32", 0], ["u64", 0n], ["u32", 0], ["u32", 0]));
    d.handle(req);
    await Bun.sleep(0);
    expect(replies.pop()).toEqual({ error: Errno.EINVAL, unique: uniqueOf(req), payload: new Uint8Array(0) });
  });

  test("a short INTERRUPT or FORGET gets no answer and leaves pending reads alone", () => {
    const { d, ino, replies, errors } = setup();
    const slow = ino(ino(1n, "data"), "slow");
    d.handle(request(Opcode.READ, slow, fields(["u64", 0n], ["u64", 0n], ["u32", 4096], ["u32", 0], ["u64", 0n], ["u32", 0], ["u32", 0])));
    expect(d.inFlight).toBe(1);
    expect(() => d.handle(request(Opcode.INTERRUPT, 0n, new Uint8Array(4)))).not.toThrow();
    expect(() => d.handle(withLen(request(Opcode.FORGET, slow, fields(["u64", 1n])), 20))).not.toThrow();
    expect(replies).toEqual([]);
    expect(d.inFlight).toBe(1);
    expect(errors.map((e) => e.split(":")[1].trim().split(" ").slice(0, 2).join(" "))).toEqual(["malformed INTERRUPT", "malformed FORGET"]);
    expect(errors.every((e) => e.endsWith("dropped"))).toBe(true);
  });

  test("random bytes for every opcode: never a throw, exactly one answer per answerable request", async () => {
    const { d, replies, done } = setup();
    const silent = new Set<number>([Opcode.FORGET, Opcode.BATCH_FORGET, Opcode.INTERRUPT, Opcode.NOTIFY_REPLY]);
    let x = 12345;
    const rand = () => ((x = (x * 1103515245 + 12345) >>> 0) >>> 8) & 0xff;
    const expected = new Map<bigint, number>();
    for (let op = 0; op <= 60; op++) {
      if (op === Opcode.INIT) continue; // the reader thread's business, answered EIO here
      for (const bodyLen of [0, 1, 7, 8, 9, 23, 24, 40, 64]) {
        const body = Uint8Array.from({ length: bodyLen }, rand);
        for (const len of [undefined, 12, 40 + bodyLen + 8]) {
          const base = request(op, BigInt(rand()), body);
          const req = len === undefined ? base : withLen(base, len);
          expect(() => d.handle(req)).not.toThrow();
          if (!silent.has(op)) expected.set(uniqueOf(req), op);
        }
      }
    }
    await Bun.sleep(10); // READs answer asynchronously
    const answered = new Map<bigint, number>();
    for (const r of replies) answered.set(r.unique, (answered.get(r.unique) ?? 0) + 1);
    for (const [unique, op] of expected) expect({ op, unique, answers: answered.get(unique) ?? 0 }).toEqual({ op, unique, answers: 1 });
    expect(replies).toHaveLength(expected.size);
    expect(done).toHaveLength(expected.size);
  });
});
