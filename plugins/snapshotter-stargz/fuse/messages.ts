// Messages between the main thread, the device reader thread and the handler workers, and the
// shared counters they update without messages.
import type { Negotiated } from "./init.ts";
import type { FuseOptions } from "./types.ts";

/** main → reader, first message: answer INIT, then wait for `start`. */
export interface ReaderInit {
  type: "init";
  fd: number;
  wantPassthrough: boolean;
  /** Most pages per request to negotiate (init.ts MAX_PAGES unless spliced replies need fewer). */
  maxPages: number;
  counters: SharedArrayBuffer;
  workers: number;
}

/** What a thread needs to serve a mount with its own instance of the tree (DispatcherConfig and the fs). */
export interface FsServe {
  fsModule: string;
  fsInit: unknown;
  options: FuseOptions;
  passthrough: boolean;
  /** Zero-message open in effect (DispatcherConfig.noOpen / noOpendir). */
  noOpen: boolean;
  noOpendir: boolean;
}

/**
 * main → reader: one port per handler worker; the reader then blocks on the device for good. With
 * `inline`, it loads the fs module's `createInlineFs` first and answers what it can itself.
 */
export interface ReaderStart {
  type: "start";
  ports: MessagePort[];
  inline?: FsServe & {
    /** OPENs go to the workers (they report accesses, and their flush orders the reports). */
    forwardOpen: boolean;
  };
}

export type ReaderOut =
  | { type: "negotiated"; negotiated: Negotiated }
  /** Serving: `inline` says whether the reader answers requests itself. */
  | { type: "serving"; inline: boolean }
  | { type: "error"; message: string }
  | { type: "exit"; reason: string; error: boolean };

/**
 * main → handler worker: serve one more mount. Handler workers are shared by every mount of the
 * process (see mount.ts); each mount gets its own port from its reader thread, fs instance and
 * dispatcher, all named by `mount`.
 */
export interface WorkerAttach extends FsServe {
  type: "attach";
  mount: number;
  /** This worker's slot in the mount's in-flight counters. */
  index: number;
  fd: number;
  counters: SharedArrayBuffer;
  port: MessagePort;
  recordAccess: boolean;
}

/**
 * main → handler worker: stop serving a mount. Once `detached` comes back the worker writes
 * nothing more to that mount's fd (reads still in flight are dropped), so the fd may be closed.
 */
export interface WorkerDetach {
  type: "detach";
  mount: number;
}

/**
 * main → handler worker: answer `flushed` with the same id. The worker reports an OPEN before it
 * answers the kernel, and its messages arrive in order, so once `flushed` is here every open the
 * kernel has seen answered so far has been reported.
 */
export interface WorkerFlush {
  type: "flush";
  id: number;
}

/**
 * main → handler worker or a spare reader thread: load the fs module now (threads started ahead
 * of a mount, so its attach or start does not wait for the module). Failures are left to the
 * attach, which loads it again and reports them.
 */
export interface ThreadPreload {
  type: "preload";
  fsModule: string;
}

export type ToWorker = WorkerAttach | WorkerDetach | WorkerFlush | ThreadPreload;

export type WorkerOut =
  | { type: "attached"; mount: number }
  | { type: "attach-failed"; mount: number; message: string }
  | { type: "detached"; mount: number }
  | { type: "access"; mount: number; ino: bigint; path?: string; at: number }
  | { type: "flushed"; id: number }
  | { type: "error"; mount: number; message: string };

// Layout of the shared counters: BigInt64 totals, then one Int32 in-flight slot per worker.
export const Counter = { requests: 0, reads: 1, bytesRead: 2, errors: 3, passthroughOpens: 4, splicedReads: 5 } as const;
const TOTALS = 8;

export function createCounters(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(TOTALS * 8 + workers * 4);
}

export function totals(sab: SharedArrayBuffer): BigInt64Array {
  return new BigInt64Array(sab, 0, TOTALS);
}

export function inFlightSlots(sab: SharedArrayBuffer): Int32Array {
  return new Int32Array(sab, TOTALS * 8);
}

/** The dispatcher settings of a mount served as `s` says. */
export function dispatcherConfig(s: FsServe): { options: FuseOptions; passthrough: boolean; noOpen: boolean; noOpendir: boolean } {
  return { options: s.options, passthrough: s.passthrough, noOpen: s.noOpen, noOpendir: s.noOpendir };
}
