// Messages between the main thread, the device reader thread and the handler workers, and the
// shared counters they update without messages.
import type { Negotiated } from "./init.ts";
import type { FuseOptions } from "./types.ts";

/** main → reader, first message: answer INIT, then wait for `start`. */
export interface ReaderInit {
  type: "init";
  fd: number;
  wantPassthrough: boolean;
  counters: SharedArrayBuffer;
  workers: number;
}

/** main → reader: one port per handler worker; the reader then blocks on the device for good. */
export interface ReaderStart {
  type: "start";
  ports: MessagePort[];
}

export type ReaderOut =
  | { type: "negotiated"; negotiated: Negotiated }
  | { type: "exit"; reason: string; error: boolean };

/** main → handler worker. */
export interface WorkerInit {
  type: "init";
  index: number;
  fd: number;
  fsModule: string;
  fsInit: unknown;
  options: FuseOptions;
  passthrough: boolean;
  counters: SharedArrayBuffer;
  port: MessagePort;
  recordAccess: boolean;
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

export type WorkerOut =
  | { type: "ready" }
  | { type: "failed"; message: string }
  | { type: "access"; ino: bigint; path?: string; at: number }
  | { type: "flushed"; id: number }
  | { type: "error"; message: string };

// Layout of the shared counters: BigInt64 totals, then one Int32 in-flight slot per worker.
export const Counter = { requests: 0, reads: 1, bytesRead: 2, errors: 3, passthroughOpens: 4 } as const;
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
