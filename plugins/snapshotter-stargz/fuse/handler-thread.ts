// Worker entry: serves the requests that reader threads hand over, for every mount it is attached
// to (handler workers are shared by all mounts of the process: see mount.ts). Per mount it holds
// one instance of the tree and a dispatcher answering on that mount's fd. Its event loop stays
// free (it never reads a device), so awaited fetches in `fs.read` progress while it keeps
// answering lookups and getattrs of every mount.
import { Dispatcher } from "./dispatcher.ts";
import { deviceHooks } from "./device-hooks.ts";
import { dispatcherConfig, type ToWorker, type WorkerAttach, type WorkerOut } from "./messages.ts";
import type { FsFactory, ReadOnlyFs } from "./types.ts";

declare const self: Worker;

const post = (m: WorkerOut) => self.postMessage(m);

interface Served {
  port: MessagePort;
  /** Cleared at detach: from then on nothing is written to the mount's fd, which may be reused. */
  live: boolean;
}

const mounts = new Map<number, Served>();

async function loadFs(spec: string, init: unknown): Promise<ReadOnlyFs> {
  const mod = (await import(spec)) as { createFs?: FsFactory; default?: FsFactory };
  const factory = mod.createFs ?? mod.default;
  if (typeof factory !== "function") {
    throw new Error(`fuse/handler-thread.ts: ${spec} exports neither createFs nor a default factory`);
  }
  return await factory(init);
}

async function attach(msg: WorkerAttach): Promise<void> {
  const served: Served = { port: msg.port, live: true };
  mounts.set(msg.mount, served);
  const fs = await loadFs(msg.fsModule, msg.fsInit);
  msg.fsInit = undefined;
  if (!served.live) return; // detached while the tree loaded
  const error = (message: string) => post({ type: "error", mount: msg.mount, message });
  const dispatcher = new Dispatcher(fs, dispatcherConfig(msg), {
    ...deviceHooks({ fd: msg.fd, counters: msg.counters, passthrough: msg.passthrough, error, where: "fuse/handler-thread.ts", inFlightSlot: msg.index, live: () => served.live }),
    onAccess: msg.recordAccess ? (ino, path) => post({ type: "access", mount: msg.mount, ino, path, at: Date.now() }) : undefined,
    onError: error,
  });
  msg.port.onmessage = (e) => {
    if (!served.live) return;
    try {
      dispatcher.handle(e.data as Uint8Array);
    } catch (err) {
      error(`fuse/handler-thread.ts: undecodable request: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  post({ type: "attached", mount: msg.mount });
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "flush") {
    // Access reports are posted as each OPEN is served, before its answer: nothing is held back,
    // so the reply itself is the flush (it queues behind every report posted so far).
    post({ type: "flushed", id: m.id });
  } else if (m.type === "preload") {
    import(m.fsModule).catch(() => {});
  } else if (m.type === "attach") {
    attach(m).catch((err) => {
      mounts.delete(m.mount);
      m.port.close();
      post({ type: "attach-failed", mount: m.mount, message: err instanceof Error ? err.message : String(err) });
    });
  } else if (m.type === "detach") {
    const s = mounts.get(m.mount);
    if (s) {
      s.live = false;
      s.port.onmessage = null;
      s.port.close();
      mounts.delete(m.mount);
    }
    post({ type: "detached", mount: m.mount });
  }
};
