// Entry of the fetch thread once lazyfs/fs.ts has seen FetchThreadInit: wires the service to the
// thread's message port.
import type { FetchThreadInit, FromFetchThread, ToFetchThread } from "./fetch-messages.ts";
import { FetchService } from "./fetch-service.ts";
import { trimOnGrowth } from "./heap-trim.ts";

/** The fetch thread collects once its heap grew this much (range bodies, mostly: heap-trim.ts). */
const TRIM_GROWTH_BYTES = 4 << 20;
const TRIM_CHECK_MS = 200;

export function startFetchService(init: FetchThreadInit, port: Worker, early: MessageEvent[]): void {
  trimOnGrowth(TRIM_GROWTH_BYTES, TRIM_CHECK_MS);
  const service = new FetchService(init, (m: FromFetchThread) => port.postMessage(m));
  for (const e of early) service.handle(e.data as ToFetchThread);
  port.addEventListener("message", (e: MessageEvent) => service.handle(e.data as ToFetchThread));
}
