// Dispatcher hooks that answer on a mount's /dev/fuse fd and count into its shared counters: the
// same for the reader thread (its inline answers) and for the handler workers.
import { Errno, Opcode } from "./abi.ts";
import type { DispatcherHooks } from "./dispatcher.ts";
import { openBacking, SplicePipe, writeFd, writevFd } from "./libc.ts";
import { Counter, inFlightSlots, totals } from "./messages.ts";

export interface DeviceHooksSpec {
  fd: number;
  counters: SharedArrayBuffer;
  passthrough: boolean;
  /** Reports a failed reply write (named after the thread's file). */
  error(message: string): void;
  where: string;
  /** A handler worker's slot in the in-flight counters; the reader counts its own answers in none. */
  inFlightSlot?: number;
  /** False once the mount detached: nothing more is written to its fd, which may be reused. */
  live?: () => boolean;
  /** Pipe for spliced READ replies (the reader thread's); without it READs go out by writev. */
  splice?: SplicePipe;
}

export function deviceHooks(s: DeviceHooksSpec): Pick<DispatcherHooks, "reply" | "replyParts" | "replyFiles" | "openBacking" | "onDone"> {
  const sums = totals(s.counters);
  const inFlight = s.inFlightSlot === undefined ? undefined : inFlightSlots(s.counters);
  const live = s.live ?? (() => true);
  const checkWrite = (rc: number) => {
    // ENOENT: the kernel dropped the request (interrupted or aborted) before our answer.
    if (rc < 0 && rc !== -Errno.ENOENT) s.error(`${s.where}: reply write failed: errno ${-rc}`);
  };
  return {
    reply: (message) => void (live() && checkWrite(writeFd(s.fd, message))),
    replyParts: (header, payload) => void (live() && checkWrite(writevFd(s.fd, header, payload))),
    replyFiles: s.splice
      ? (header, spans) => {
          if (!live()) return true;
          const rc = s.splice!.reply(s.fd, header, spans);
          if (rc === undefined) return false;
          checkWrite(rc);
          if (rc > 0) Atomics.add(sums, Counter.splicedReads, 1n);
          return true;
        }
      : undefined,
    openBacking: s.passthrough
      ? (path) => {
          const id = openBacking(s.fd, path);
          if (id > 0) Atomics.add(sums, Counter.passthroughOpens, 1n);
          return id;
        }
      : undefined,
    onDone(opcode, errno, bytesRead) {
      if (inFlight) Atomics.sub(inFlight, s.inFlightSlot!, 1);
      Atomics.add(sums, Counter.requests, 1n);
      if (errno === Errno.EIO) Atomics.add(sums, Counter.errors, 1n); // ENOENT/ENODATA/EROFS are answers, not failures
      if (opcode === Opcode.READ) {
        Atomics.add(sums, Counter.reads, 1n);
        Atomics.add(sums, Counter.bytesRead, BigInt(bytesRead));
      }
    },
  };
}
