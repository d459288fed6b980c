// mountFuse(): opens /dev/fuse, mounts it, starts the reader thread and the handler workers.
import { closeSync, openSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { S_IFDIR } from "./abi.ts";
import type { Negotiated } from "./init.ts";
import { MNT_DETACH, MS_RDONLY, mount, umount2 } from "./libc.ts";
import { Counter, createCounters, inFlightSlots, totals, type ReaderOut, type WorkerFlush, type WorkerInit, type WorkerOut } from "./messages.ts";
import { abortConnection, deviceOf, FUSE_FSTYPE, setReadAhead } from "./mountinfo.ts";
import { resolveFsModule, workerEntry } from "./module-url.ts";
import type { FuseMount, FuseOptions, MountFuseParams, MountStats } from "./types.ts";

const ONE_YEAR = 365 * 24 * 3600;
/** A handler worker answers a flush between two requests; one that does not within this long
 *  (stuck, or gone) no longer holds up the caller. */
const FLUSH_CAP_MS = 5_000;

export const DEFAULT_FUSE_OPTIONS: FuseOptions = {
  attrTimeoutSec: ONE_YEAR,
  entryTimeoutSec: ONE_YEAR,
  fsName: "edgebuild",
  allowOther: true,
  debug: false,
  keepCache: true,
  readAheadKb: 8192,
  passthrough: false,
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
  const reader = new Worker(workerEntry("reader-thread.ts"), { smol: true });
  const handlers: Worker[] = [];
  let readerExit: Promise<ReaderOut> | undefined;
  let closed = false;
  /** Flushes waiting for a handler worker's `flushed`, by id. */
  const flushes = new Map<number, () => void>();
  let nextFlush = 1;
  const endFlushes = () => {
    for (const done of [...flushes.values()]) done();
  };

  /** One round trip through handler worker `i`: its access reports posted so far arrive first. */
  const flushWorker = (w: Worker, i: number) =>
    new Promise<void>((res) => {
      const id = nextFlush++;
      const timer = setTimeout(() => {
        onError?.(`fuse/mount.ts: handler worker ${i} did not answer a flush within ${FLUSH_CAP_MS} ms; access reports may be incomplete`);
        done();
      }, FLUSH_CAP_MS);
      const done = () => {
        clearTimeout(timer);
        flushes.delete(id);
        res();
      };
      flushes.set(id, done);
      w.postMessage({ type: "flush", id } satisfies WorkerFlush);
    });

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
    for (const h of handlers) h.terminate();
    endFlushes();
    reader.terminate();
    closeSync(fd);
  };

  try {
    reader.postMessage({ type: "init", fd, wantPassthrough: options.passthrough, counters, workers: workerCount });
    const first = await nextMessage<ReaderOut>(reader, "reader thread");
    if (first.type !== "negotiated") throw new Error(first.reason);
    const negotiated: Negotiated = first.negotiated;
    readerExit = nextMessage<ReaderOut>(reader, "reader thread").catch((e: Error) => ({ type: "exit", reason: e.message, error: true }) as const);
    readerExit.then((m) => {
      if (m.type === "exit" && m.error) onError?.(m.reason);
    });

    const ports: MessagePort[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < workerCount; i++) {
      const w = new Worker(workerEntry("handler-thread.ts"), { smol: true });
      handlers.push(w);
      const channel = new MessageChannel();
      ports.push(channel.port1);
      ready.push(new Promise<void>((res, rej) => {
        w.addEventListener("error", (e) => {
          endFlushes();
          rej(new Error(`fuse/mount.ts: handler worker ${i} crashed: ${e.message}`));
        });
        w.addEventListener("message", (e: MessageEvent<WorkerOut>) => {
          const m = e.data;
          if (m.type === "access") onAccess?.({ ino: m.ino, path: m.path, at: m.at });
          else if (m.type === "flushed") flushes.get(m.id)?.();
          else if (m.type === "ready") res();
          else if (m.type === "failed") rej(new Error(`fuse/mount.ts: handler worker ${i} could not load ${fsModule}: ${m.message}`));
          else if (m.type === "error") onError?.(m.message);
        });
      }));
      const init: WorkerInit = {
        type: "init", index: i, fd, fsModule, fsInit: handoff.fsInit, options,
        passthrough: negotiated.passthrough, counters, port: channel.port2, recordAccess: handoff.recordAccess,
      };
      w.postMessage(init, [channel.port2]);
    }
    await Promise.all(ready);
    reader.postMessage({ type: "start", ports }, ports);
    handoff.fsInit = undefined;
    if (options.readAheadKb > 0 && dev) setReadAhead(dev, options.readAheadKb, onError);

    return {
      mountpoint,
      negotiated,
      unmount: teardown,
      async flush(): Promise<void> {
        if (closed) return;
        await Promise.all(handlers.map(flushWorker));
      },
      stats(): MountStats {
        const t = totals(counters);
        return {
          requests: Number(Atomics.load(t, Counter.requests)),
          reads: Number(Atomics.load(t, Counter.reads)),
          bytesRead: Number(Atomics.load(t, Counter.bytesRead)),
          errors: Number(Atomics.load(t, Counter.errors)),
          passthroughOpens: Number(Atomics.load(t, Counter.passthroughOpens)),
          inFlight: inFlightSlots(counters).reduce((a, b) => a + b, 0),
        };
      },
    };
  } catch (e) {
    await teardown();
    throw e;
  }
}
