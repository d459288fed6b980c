// The main thread's handle on the fetch thread.
//
// Chunk fetches cannot run on the main thread: the builder reads lazy layers with synchronous
// calls (readFileSync, copies), and a blocked main thread could then never answer the FUSE
// workers that wait on it. So one worker thread per snapshotter does all network work for every
// lazy layer: each chunk is fetched once however many FUSE workers ask, prefetch and background
// fetch live next to on-demand reads, and credentials stay out of the FUSE workers (the main
// thread resolves them through the auth plugins and hands over only the one a layer needs).
//
// The thread's entry is lazyfs/fs.ts, the one extra module the compiled binary carries besides
// the FUSE server's: it starts the service when it receives FetchThreadInit.
import { repoModule } from "./fuse/module-url.ts";
import type { DecoderThreadInit, FetchThreadInit, FromFetchThread, LayerStatus, ToFetchThread } from "./fetch-messages.ts";
import type { WireToc } from "./toc-wire.ts";

export const LAZYFS_MODULE = "plugins/snapshotter-stargz/lazyfs/fs.ts";

type Pending = { resolve: (m: FromFetchThread) => void; reject: (e: Error) => void };
type Request = ToFetchThread extends infer T ? (T extends { req: number } ? Omit<T, "req"> : never) : never;

export class FetchThread {
  private readonly worker: Worker;
  private readonly decoders: Worker[] = [];
  private nextReq = 1;
  private readonly pending = new Map<number, Pending>();
  readonly statuses = new Map<string, LayerStatus>();
  /** Called when an open's first requests are out. */
  onOpening: ((key: string) => void) | undefined;
  private dead: Error | undefined;

  constructor(init: Omit<FetchThreadInit, "type" | "decoders">, decoderCount: number, log: (m: string) => void) {
    // Decoder threads are started here, not by the fetch thread: no worker has to start workers.
    const ports: MessagePort[] = [];
    for (let i = 0; i < decoderCount; i++) {
      const w = new Worker(repoModule(LAZYFS_MODULE), { smol: true });
      const ch = new MessageChannel();
      w.postMessage({ type: "stargz-decoder-thread-init", port: ch.port1 } satisfies DecoderThreadInit, [ch.port1]);
      w.addEventListener("error", (e) => log(`stargz decoder thread ${i} crashed: ${e.message}`));
      this.decoders.push(w);
      ports.push(ch.port2);
    }
    this.worker = new Worker(repoModule(LAZYFS_MODULE), { smol: true });
    this.worker.addEventListener("message", (e: MessageEvent) => {
      const m = e.data as FromFetchThread;
      if (m.t === "log") log(m.message);
      else if (m.t === "opening") this.onOpening?.(m.key);
      else if (m.t === "status") this.statuses.set(m.key, m.status);
      else {
        const p = this.pending.get(m.req);
        this.pending.delete(m.req);
        p?.resolve(m);
      }
    });
    this.worker.addEventListener("error", (e) => {
      this.dead = new Error(`stargz fetch thread crashed: ${e.message}`);
      log(this.dead.message);
      for (const p of this.pending.values()) p.reject(this.dead);
      this.pending.clear();
    });
    this.worker.postMessage({ type: "stargz-fetch-thread-init", ...init, decoders: ports } satisfies FetchThreadInit, ports);
  }

  private call(m: Request): Promise<FromFetchThread> {
    if (this.dead) return Promise.reject(this.dead);
    const req = this.nextReq++;
    return new Promise((resolve, reject) => {
      this.pending.set(req, { resolve, reject });
      this.worker.postMessage({ ...m, req } as ToFetchThread);
    });
  }

  async open(m: Omit<Extract<ToFetchThread, { t: "open" }>, "t" | "req">): Promise<WireToc> {
    const r = await this.call({ t: "open", ...m });
    if (r.t === "failed") throw new Error(r.message);
    if (r.t !== "opened") throw new Error(`stargz fetch thread answered ${r.t} to open`);
    return r.toc;
  }

  async close(key: string): Promise<void> {
    if (this.dead) return;
    await this.call({ t: "close", key });
    this.statuses.delete(key);
  }

  /** Lets writes under way finish (bounded), then ends the thread. */
  async terminate(): Promise<void> {
    if (!this.dead) await Promise.race([this.call({ t: "shutdown" }), Bun.sleep(10_000)]);
    this.worker.terminate();
    for (const d of this.decoders) d.terminate();
  }
}
