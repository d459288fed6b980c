// mountFuse(): opens /dev/fuse, mounts it, starts the mount's reader thread and attaches the mount
// to the process's handler workers.
//
// Handler workers are shared by every mount of the process: a build stacks several lazy layers, and
// a worker per mount costs a thread, its own copy of the fs module's code and heap (~6 MB RSS) and
// its start-up time at each mount. The first `workers` of the pool serve a mount; the pool grows to
// the largest `workers` asked, and a worker ends when its last mount detaches. Each mount keeps
// its own reader thread (it blocks in read(2) on that mount's device).
import { closeSync, openSync, readdirSync, statSync, type Dirent } from "node:fs";
import { join, resolve } from "node:path";
import { S_IFDIR } from "./abi.ts";
import { MAX_PAGES, type Negotiated } from "./init.ts";
import { MNT_DETACH, MS_RDONLY, mount, splicePipePages, umount2 } from "./libc.ts";
import { Counter, createCounters, inFlightSlots, totals, type FsServe, type ReaderOut, type ReaderStart, type ThreadPreload, type ToWorker, type WorkerOut } from "./messages.ts";
import { abortConnection, deviceOf, FUSE_FSTYPE, setReadAhead } from "./mountinfo.ts";
import { resolveFsModule, workerEntry } from "./module-url.ts";
import type { AccessRecord, FuseMount, FuseOptions, MountFuseParams, MountStats } from "./types.ts";
import { phase } from "../../../core/progress/phases.ts";

const ONE_YEAR = 365 * 24 * 3600;
/** A handler worker answers a flush between two requests; one that does not within this long
 *  (stuck, or gone) no longer holds up the caller. */
const FLUSH_CAP_MS = 5_000;
/** A handler worker that does not confirm a detach within this long is ended (with its mounts). */
const DETACH_CAP_MS = 5_000;

export const DEFAULT_FUSE_OPTIONS: FuseOptions = {
  attrTimeoutSec: ONE_YEAR,
  entryTimeoutSec: ONE_YEAR,
  fsName: "edgebuild",
  allowOther: true,
  debug: false,
  keepCache: true,
  readAheadKb: 8192,
  passthrough: false,
  zeroMessageOpen: true,
  splice: true,
};

/** Mounts still attached: detached on process exit so a crash-free exit never leaves one behind. */
const live = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const mp of live) umount2(mp, MNT_DETACH);
  });
}

/** A mount as one pool worker sees it: where its reports go, and its pending attach. */
interface Attachment {
  onAccess?: (r: AccessRecord) => void;
  onError?: (message: string) => void;
  attach?: { resolve(): void; reject(e: Error): void };
}

interface PoolWorker {
  worker: Worker;
  mounts: Map<number, Attachment>;
  flushes: Map<number, () => void>;
  detaches: Map<number, () => void>;
  dead?: string;
}

const pool: PoolWorker[] = [];
let nextMount = 1;
let nextFlush = 1;

function post(pw: PoolWorker, m: ToWorker, transfer: MessagePort[] = []): void {
  if (!pw.dead) pw.worker.postMessage(m, transfer);
}

/** Ends a pool worker: its pending attaches fail, flushes and detaches return, its mounts are told. */
function endWorker(pw: PoolWorker, why: string | undefined): void {
  if (pw.dead !== undefined) return;
  pw.dead = why ?? "ended";
  const i = pool.indexOf(pw);
  if (i >= 0) pool.splice(i, 1);
  for (const a of pw.mounts.values()) {
    if (!why) continue;
    a.attach?.reject(new Error(`fuse/mount.ts: handler worker crashed: ${why}`));
    a.onError?.(`fuse/mount.ts: handler worker crashed: ${why}`);
  }
  pw.mounts.clear();
  for (const done of [...pw.flushes.values()]) done();
  for (const done of [...pw.detaches.values()]) done();
  pw.worker.terminate();
}

function spawnPoolWorker(): PoolWorker {
  const pw: PoolWorker = { worker: new Worker(workerEntry("handler-thread.ts"), { smol: true }), mounts: new Map(), flushes: new Map(), detaches: new Map() };
  pw.worker.addEventListener("message", (e: MessageEvent<WorkerOut>) => {
    const m = e.data;
    if (m.type === "access") pw.mounts.get(m.mount)?.onAccess?.({ ino: m.ino, path: m.path, at: m.at });
    else if (m.type === "error") pw.mounts.get(m.mount)?.onError?.(m.message);
    else if (m.type === "flushed") pw.flushes.get(m.id)?.();
    else if (m.type === "detached") pw.detaches.get(m.mount)?.();
    else if (m.type === "attached") pw.mounts.get(m.mount)?.attach?.resolve();
    else if (m.type === "attach-failed") pw.mounts.get(m.mount)?.attach?.reject(new Error(m.message));
  });
  pw.worker.addEventListener("error", (e) => endWorker(pw, e.message));
  return pw;
}

/** Handler workers running now (shared by all mounts; for tests and stats). */
export function handlerWorkerCount(): number {
  return pool.length;
}

/** Reader threads started ahead of mounts by warmFuseThreads(), each taken by the next mount. */
const spareReaders: Worker[] = [];

/**
 * Starts the threads the next mounts will need — `workers` handler workers and `readers` reader
 * threads, each loading `fsModule` — ahead of them: a thread and its modules take 20-40 ms to
 * start, on the mount's path otherwise. Threads no mount takes are ended by endSpareThreads().
 */
export function warmFuseThreads(o: { fsModule: string; workers: number; readers: number }): void {
  const fsModule = resolveFsModule(o.fsModule);
  for (const pw of poolWorkers(o.workers)) if (pw.mounts.size === 0) post(pw, { type: "preload", fsModule });
  while (spareReaders.length < o.readers) {
    const r = new Worker(workerEntry("reader-thread.ts"), { smol: true });
    r.postMessage({ type: "preload", fsModule } satisfies ThreadPreload);
    // One that dies while spare is dropped (a taken one reports to its mount).
    r.addEventListener("error", () => {
      const i = spareReaders.indexOf(r);
      if (i >= 0) spareReaders.splice(i, 1);
    });
    spareReaders.push(r);
  }
}

/** Ends the threads warmFuseThreads() started that no mount has taken (handler workers serving
 *  no mount, spare readers). */
export function endSpareThreads(): void {
  for (const r of spareReaders.splice(0)) r.terminate();
  for (const pw of [...pool]) if (pw.mounts.size === 0) endWorker(pw, undefined);
}

/** Spare reader threads waiting for a mount (for tests). */
export function spareReaderCount(): number {
  return spareReaders.length;
}

/** The first `n` handler workers of the pool, started as needed. */
function poolWorkers(n: number): PoolWorker[] {
  while (pool.length < n) pool.push(spawnPoolWorker());
  return pool.slice(0, n);
}

/** Stops `pw` serving mount `id`; resolves once it writes nothing more for it. */
function detach(pw: PoolWorker, id: number): Promise<void> {
  if (pw.dead !== undefined || !pw.mounts.has(id)) return Promise.resolve();
  return new Promise<void>((res) => {
    const timer = setTimeout(() => endWorker(pw, `no answer to a detach within ${DETACH_CAP_MS} ms`), DETACH_CAP_MS);
    pw.detaches.set(id, () => {
      clearTimeout(timer);
      pw.detaches.delete(id);
      pw.mounts.delete(id);
      if (pw.mounts.size === 0 && pw.dead === undefined) endWorker(pw, undefined); // idle: give its thread back
      res();
    });
    post(pw, { type: "detach", mount: id });
  });
}

/** One round trip through pool worker `pw`: its access reports posted so far arrive first. */
function flushWorker(pw: PoolWorker, onError: ((m: string) => void) | undefined): Promise<void> {
  if (pw.dead !== undefined) return Promise.resolve();
  return new Promise<void>((res) => {
    const id = nextFlush++;
    const timer = setTimeout(() => {
      onError?.(`fuse/mount.ts: handler worker did not answer a flush within ${FLUSH_CAP_MS} ms; access reports may be incomplete`);
      done();
    }, FLUSH_CAP_MS);
    const done = () => {
      clearTimeout(timer);
      pw.flushes.delete(id);
      res();
    };
    pw.flushes.set(id, done);
    post(pw, { type: "flush", id });
  });
}

/**
 * Opens and closes one regular file of a fresh zero-message-open mount, so the kernel learns right
 * away that OPEN and FLUSH are not wanted (both answered ENOSYS). Until then every close(2) sends
 * a FLUSH the kernel waits for uninterruptibly — a process SIGKILLed while holding a file of its
 * own mount open would hang in exit, its server threads already gone. (Opened files otherwise get
 * FOPEN_NOFLUSH, which zero-message open cannot carry.) A tree without regular files can never
 * send a FLUSH.
 */
function primeNoOpen(mountpoint: string): void {
  const dirs = [mountpoint];
  for (let seen = 0; dirs.length && seen < 64; seen++) {
    const dir = dirs.shift()!;
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    const file = entries.find((e) => e.isFile());
    if (file) {
      try {
        closeSync(openSync(join(dir, file.name), "r"));
        return;
      } catch {
        // unreadable (mode bits): try another
      }
    }
    for (const e of entries) if (e.isDirectory()) dirs.push(join(dir, e.name));
  }
}

function nextMessage<T extends { type: string }>(w: Worker, what: string): Promise<T> {
  return new Promise((res, rej) => {
    const onMessage = (e: MessageEvent<T>) => {
      cleanup();
      res(e.data);
    };
    const onError = (e: ErrorEvent) => {
      cleanup();
      rej(new Error(`fuse/mount.ts: ${what} crashed: ${e.message}`));
    };
    const cleanup = () => {
      w.removeEventListener("message", onMessage);
      w.removeEventListener("error", onError);
    };
    w.addEventListener("message", onMessage);
    w.addEventListener("error", onError);
  });
}

export function mountFuse(params: MountFuseParams): Promise<FuseMount> {
  // The long-lived closures below keep only the callbacks: `fsInit` (a whole TOC for lazy layers)
  // must not stay reachable on this thread once the workers have their copies.
  const { onAccess, onError } = params;
  const init = { fsInit: params.fsInit, recordAccess: onAccess !== undefined };
  return mountWith(params, init, onAccess, onError);
}

async function mountWith(
  params: Omit<MountFuseParams, "onAccess" | "onError">,
  handoff: { fsInit: unknown; recordAccess: boolean },
  onAccess: MountFuseParams["onAccess"],
  onError: MountFuseParams["onError"],
): Promise<FuseMount> {
  const options: FuseOptions = { ...DEFAULT_FUSE_OPTIONS, ...params.options };
  const mountpoint = resolve(params.mountpoint);
  const workerCount = Math.max(1, params.workers ?? 2);
  if (!statSync(mountpoint, { throwIfNoEntry: false })?.isDirectory()) {
    throw new Error(`fuse/mount.ts: mountpoint ${mountpoint} is not a directory`);
  }
  const fsModule = resolveFsModule(params.fsModule);
  const fd = openSync("/dev/fuse", "r+");
  const data = [
    `fd=${fd}`,
    `rootmode=${S_IFDIR.toString(8)}`,
    `user_id=${process.getuid?.() ?? 0}`,
    `group_id=${process.getgid?.() ?? 0}`,
    "default_permissions", // the kernel checks modes/uids against our attributes
    ...(options.allowOther ? ["allow_other"] : []),
  ].join(",");
  try {
    mount(options.fsName, mountpoint, FUSE_FSTYPE, MS_RDONLY, data);
  } catch (e) {
    closeSync(fd);
    throw new Error(`fuse/mount.ts: mounting FUSE at ${mountpoint} failed (need root and /dev/fuse): ${(e as Error).message}`);
  }
  live.add(mountpoint);
  installExitHook();
  const dev = deviceOf(mountpoint);
  const conn = dev?.minor;

  const counters = createCounters(workerCount);
  const reader = spareReaders.shift() ?? new Worker(workerEntry("reader-thread.ts"), { smol: true });
  const id = nextMount++;
  /** The pool workers serving this mount, once attached (or attaching). */
  let handlers: PoolWorker[] = [];
  let readerExit: Promise<ReaderOut> | undefined;
  let closed = false;

  const teardown = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    umount2(mountpoint, MNT_DETACH);
    live.delete(mountpoint);
    // A detached mount still in use (e.g. an overlay above it) keeps the connection: abort it so
    // the reader's blocking read returns and no process is left hanging on a dead server.
    const exited = readerExit ? await Promise.race([readerExit.then(() => true), Bun.sleep(1500).then(() => false)]) : true;
    if (!exited && conn !== undefined) {
      abortConnection(conn);
      await Promise.race([readerExit, Bun.sleep(3000)]);
    }
    // The fd is closed (and its number free for reuse) only once no handler can write to it.
    await Promise.all(handlers.map((pw) => detach(pw, id)));
    reader.terminate();
    closeSync(fd);
  };

  try {
    // Spliced READ replies go through a pipe: a request may not need more page slots than it has.
    const maxPages = options.splice ? Math.min(MAX_PAGES, splicePipePages() - 1) : MAX_PAGES;
    reader.postMessage({ type: "init", fd, wantPassthrough: options.passthrough, maxPages, counters, workers: workerCount });
    const first = await nextMessage<ReaderOut>(reader, "reader thread");
    phase("fuse-negotiated");
    if (first.type !== "negotiated") throw new Error(first.type === "exit" ? first.reason : `fuse/mount.ts: reader thread said ${first.type} before INIT was answered`);
    const negotiated: Negotiated = first.negotiated;
    let serving: (inline: boolean) => void = () => {};
    const started = new Promise<boolean>((res) => (serving = res));
    readerExit = new Promise<ReaderOut>((res) => {
      reader.addEventListener("message", (e: MessageEvent<ReaderOut>) => {
        const m = e.data;
        if (m.type === "error") onError?.(m.message);
        else if (m.type === "serving") serving(m.inline);
        else if (m.type === "exit") {
          if (m.error) onError?.(m.reason);
          serving(false);
          res(m);
        }
      });
      reader.addEventListener("error", (e) => {
        onError?.(`fuse/mount.ts: reader thread crashed: ${e.message}`);
        serving(false);
        res({ type: "exit", reason: e.message, error: true });
      });
    });

    // Zero-message open: not while accesses are recorded or files are passed through (both need OPEN).
    const noOpen = options.zeroMessageOpen && negotiated.noOpen && !handoff.recordAccess && !negotiated.passthrough;
    const noOpendir = options.zeroMessageOpen && negotiated.noOpendir;
    // Holds the whole fs init (a layer index): dropped below once the threads have it.
    let serve: FsServe | undefined = { fsModule, fsInit: handoff.fsInit, options, passthrough: negotiated.passthrough, noOpen, noOpendir };
    const ports: MessagePort[] = [];
    handlers = poolWorkers(workerCount);
    await Promise.all(handlers.map((pw, i) => {
      const channel = new MessageChannel();
      ports.push(channel.port1);
      return new Promise<void>((resolve, reject) => {
        pw.mounts.set(id, { onAccess, onError, attach: { resolve, reject } });
        post(pw, {
          ...serve!, type: "attach", mount: id, index: i, fd, counters, port: channel.port2, recordAccess: handoff.recordAccess,
        }, [channel.port2]);
      }).then(() => {
        const a = pw.mounts.get(id);
        if (a) a.attach = undefined;
      }, (e: Error) => {
        throw new Error(`fuse/mount.ts: handler worker ${i} could not load ${fsModule}: ${e.message}`);
      });
    }));
    phase("fuse-attached");
    reader.postMessage({ type: "start", ports, inline: { ...serve, forwardOpen: handoff.recordAccess } } satisfies ReaderStart, ports);
    serve = undefined;
    handoff.fsInit = undefined;
    const answersInline = await started;
    phase("fuse-serving");
    if (noOpen) primeNoOpen(mountpoint);
    // A whole number of READs per readahead window: 8 MiB in 255-page READs would end each window
    // with an 8-page one.
    const perRead = negotiated.maxPages * 4;
    if (options.readAheadKb > 0 && dev) setReadAhead(dev, Math.max(perRead, Math.floor(options.readAheadKb / perRead) * perRead), onError);

    return {
      mountpoint,
      negotiated,
      inline: answersInline,
      unmount: teardown,
      async flush(): Promise<void> {
        if (closed) return;
        await Promise.all(handlers.map((pw) => flushWorker(pw, onError)));
      },
      stats(): MountStats {
        const t = totals(counters);
        return {
          requests: Number(Atomics.load(t, Counter.requests)),
          reads: Number(Atomics.load(t, Counter.reads)),
          bytesRead: Number(Atomics.load(t, Counter.bytesRead)),
          errors: Number(Atomics.load(t, Counter.errors)),
          passthroughOpens: Number(Atomics.load(t, Counter.passthroughOpens)),
          splicedReads: Number(Atomics.load(t, Counter.splicedReads)),
          inFlight: inFlightSlots(counters).reduce((a, b) => a + b, 0),
        };
      },
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}
