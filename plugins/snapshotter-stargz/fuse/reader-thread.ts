// Worker entry: the one thread of a mount that blocks in read(2) on /dev/fuse.
//
// A blocking device read freezes its thread's event loop, so no code that awaits (network
// fetches) may run here. The thread answers INIT, then reads requests forever. When the fs module
// offers `createInlineFs`, it answers every request that needs no waiting itself, synchronously,
// right after reading it: lookups, attributes, directories, opens, and reads whose bytes are
// already local (`readSync`). That saves a thread hop per request, most of a small file's cost.
// Everything else (reads to fetch, INTERRUPT, OPEN when accesses are recorded) goes, as a
// transferred buffer, to the handler worker with the fewest requests in flight. Handler workers
// write their replies to the same fd themselves.
import { Errno, IN_HEADER_SIZE, Opcode } from "./abi.ts";
import { decodeInitIn, decodeRequest, encodeInitOut, errorReply } from "./codec.ts";
import { MAX_PAGES, negotiate, REQUEST_BUFFER_SIZE } from "./init.ts";
import { Dispatcher } from "./dispatcher.ts";
import { deviceHooks } from "./device-hooks.ts";
import { readFd, SplicePipe, writeFd } from "./libc.ts";
import { dispatcherConfig, inFlightSlots, type ReaderInit, type ReaderOut, type ReaderStart, type ThreadPreload } from "./messages.ts";
import type { InlineFsFactory } from "./types.ts";

declare const self: Worker;

/** major, minor, max_readahead, flags: what every kernel's fuse_init_in starts with. */
const INIT_IN_MIN_SIZE = 16;

const post = (m: ReaderOut) => self.postMessage(m);
let init: ReaderInit | undefined;
const buf = new Uint8Array(REQUEST_BUFFER_SIZE);

/** Next request, or a reason to stop. Retries the transient errors the device reports. */
function next(fd: number, shared = false): Uint8Array | { stop: string; error: boolean } {
  for (;;) {
    const n = readFd(fd, buf);
    if (n >= IN_HEADER_SIZE) return shared ? buf.subarray(0, n) : buf.slice(0, n);
    if (n >= 0) return { stop: `fuse/reader-thread.ts: short read of ${n} bytes from /dev/fuse`, error: true };
    const e = -n;
    // ENOENT: the request was interrupted before we read it; EINTR/EAGAIN: try again.
    if (e === Errno.ENOENT || e === Errno.EINTR || e === Errno.EAGAIN) continue;
    if (e === Errno.ENODEV) return { stop: "unmounted", error: false };
    if (e === Errno.ECONNABORTED) return { stop: "connection aborted", error: false };
    return { stop: `fuse/reader-thread.ts: read(/dev/fuse) failed: errno ${e}`, error: true };
  }
}

function answerInit(msg: ReaderInit): void {
  const first = next(msg.fd);
  if (!(first instanceof Uint8Array)) return post({ type: "exit", reason: first.stop, error: true });
  const req = decodeRequest(first);
  if (req.header.opcode !== Opcode.INIT) {
    return post({ type: "exit", reason: `fuse/reader-thread.ts: first request is opcode ${req.header.opcode}, expected INIT`, error: true });
  }
  if (req.body.byteLength < INIT_IN_MIN_SIZE) {
    writeFd(msg.fd, errorReply(req.header.unique, Errno.EINVAL));
    return post({ type: "exit", reason: `fuse/reader-thread.ts: INIT body of ${req.body.byteLength} bytes, need ${INIT_IN_MIN_SIZE}`, error: true });
  }
  let answer: ReturnType<typeof negotiate>;
  try {
    answer = negotiate(decodeInitIn(req.body), msg.wantPassthrough, msg.maxPages);
  } catch (e) {
    writeFd(msg.fd, errorReply(req.header.unique, Errno.EPROTO));
    return post({ type: "exit", reason: (e as Error).message, error: true });
  }
  const { out, negotiated } = answer;
  const rc = writeFd(msg.fd, encodeInitOut(req.header.unique, out));
  if (rc < 0) return post({ type: "exit", reason: `fuse/reader-thread.ts: INIT reply refused by the kernel: errno ${-rc}`, error: true });
  post({ type: "negotiated", negotiated });
}

/** The dispatcher answering on this thread, when the fs module offers an inline instance. */
async function inlineDispatcher(init: ReaderInit, spec: NonNullable<ReaderStart["inline"]>): Promise<Dispatcher | undefined> {
  const mod = (await import(spec.fsModule)) as { createInlineFs?: InlineFsFactory };
  const fs = await mod.createInlineFs?.(spec.fsInit);
  if (!fs) return undefined;
  const error = (message: string) => post({ type: "error", message });
  return new Dispatcher(fs, dispatcherConfig(spec), {
    ...deviceHooks({
      fd: init.fd, counters: init.counters, passthrough: spec.passthrough, error, where: "fuse/reader-thread.ts",
      // Room for the largest READ's pages at any alignment, plus the header's.
      splice: spec.options.splice && fs.readFiles ? new SplicePipe(2 * MAX_PAGES * 4096) : undefined,
    }),
    onError: error,
  });
}

function serve(msg: ReaderInit, ports: MessagePort[], inline: Dispatcher | undefined, forwardOpen: boolean): void {
  const inFlight = inFlightSlots(msg.counters);
  const n = ports.length;
  let rr = 0;
  for (;;) {
    const got = next(msg.fd, inline !== undefined);
    if (!(got instanceof Uint8Array)) return post({ type: "exit", reason: got.stop, error: got.error });
    if (inline && inline.handleNow(got, forwardOpen)) continue;
    const req = inline ? got.slice() : got; // the inline path reads into the shared buffer
    const opcode = new DataView(req.buffer).getUint32(4, true);
    if (opcode === Opcode.INTERRUPT) {
      // The interrupted request may sit in any worker: each checks its own pending set.
      for (const p of ports) p.postMessage(req.slice());
      continue;
    }
    let target: number;
    if (opcode === Opcode.OPEN) {
      // Same inode → same worker, so one worker owns each inode's passthrough backing id.
      target = Number(new DataView(req.buffer).getBigUint64(16, true) % BigInt(n));
    } else {
      target = rr;
      let best = Atomics.load(inFlight, rr);
      for (let i = 1; i < n && best > 0; i++) {
        const j = (rr + i) % n;
        const v = Atomics.load(inFlight, j);
        if (v < best) { best = v; target = j; }
      }
      rr = (rr + 1) % n;
    }
    if (opcode !== Opcode.FORGET && opcode !== Opcode.BATCH_FORGET) Atomics.add(inFlight, target, 1);
    ports[target].postMessage(req, [req.buffer as ArrayBuffer]);
  }
}

self.onmessage = async (e: MessageEvent<ReaderInit | ReaderStart | ThreadPreload>) => {
  const msg = e.data;
  if (msg.type === "preload") {
    import(msg.fsModule).catch(() => {});
  } else if (msg.type === "init") {
    init = msg;
    answerInit(msg);
  } else if (init) {
    let inline: Dispatcher | undefined;
    if (msg.inline) {
      try {
        inline = await inlineDispatcher(init, msg.inline);
      } catch (err) {
        post({ type: "error", message: `fuse/reader-thread.ts: no inline answers (${msg.inline.fsModule}: ${err instanceof Error ? err.message : String(err)}); every request goes to the workers` });
      }
    }
    post({ type: "serving", inline: inline !== undefined });
    serve(init, msg.ports, inline, msg.inline?.forwardOpen ?? true);
  }
};
