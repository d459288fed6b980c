// Entry of the fetch thread once lazyfs/fs.ts has seen FetchThreadInit: wires the service to the
// thread's message port.
import type { FetchThreadInit, FromFetchThread, ToFetchThread } from "./fetch-messages.ts";
import { FetchService } from "./fetch-service.ts";

export function startFetchService(init: FetchThreadInit, port: Worker, early: MessageEvent[]): void {
  const service = new FetchService(init, (m: FromFetchThread) => port.postMessage(m));
  for (const e of early) service.handle(e.data as ToFetchThread);
  port.addEventListener("message", (e: MessageEvent) => service.handle(e.data as ToFetchThread));
}
