// A loopback proxy in front of the test registry that counts blob requests and body bytes, and can
// go down (connections refused) and come back on the same port, like a registry restart.
export interface FaultProxy {
  host: string;
  /** GET requests for blobs with their Range header. */
  blobGets: { path: string; range: string | null }[];
  /** Body bytes of blob GET responses delivered to the client. */
  blobBytes: number;
  reset(): void;
  down(): void;
  up(): void;
  stop(): void;
}

export function startFaultProxy(upstream: string): FaultProxy {
  let server: ReturnType<typeof Bun.serve> | undefined;
  let port = 0;
  const state: FaultProxy = {
    host: "",
    blobGets: [],
    blobBytes: 0,
    reset() {
      state.blobGets.length = 0;
      state.blobBytes = 0;
    },
    down() {
      server?.stop(true);
      server = undefined;
    },
    up() {
      if (!server) server = serve();
    },
    stop() {
      state.down();
    },
  };
  const serve = () =>
    Bun.serve({
      port,
      hostname: "127.0.0.1",
      async fetch(req) {
        const url = new URL(req.url);
        const isBlobGet = req.method === "GET" && url.pathname.includes("/blobs/sha256:");
        if (isBlobGet) state.blobGets.push({ path: url.pathname, range: req.headers.get("range") });
        const headers = new Headers(req.headers);
        headers.set("host", upstream);
        const body = req.method === "GET" || req.method === "HEAD" ? undefined : await req.arrayBuffer();
        const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: "manual", decompress: false } as RequestInit);
        const out = new Headers(res.headers);
        const loc = out.get("location");
        if (loc) out.set("location", loc.replace(`//${upstream}`, `//${state.host}`));
        if (!isBlobGet || !res.body) return new Response(req.method === "HEAD" ? null : res.body, { status: res.status, headers: out });
        const counted = res.body.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, ctl) {
              state.blobBytes += chunk.length;
              ctl.enqueue(chunk);
            },
          }),
        );
        return new Response(counted, { status: res.status, headers: out });
      },
    });
  server = serve();
  port = server.port!;
  state.host = `127.0.0.1:${port}`;
  return state;
}
