// A loopback HTTP proxy in front of a registry that records every request (method and path), so
// tests can assert what a client did (e.g. that a mount uploaded nothing), with each request's
// Range header and the body bytes sent back (lazy pulls: bytes fetched vs blob size). Location
// headers are rewritten to point back at the proxy.
export interface CountingProxy {
  host: string;
  requests: { method: string; path: string; range?: string; status?: number; bytes: number }[];
  count(method: string, pathPart?: string): number;
  stop(): void;
}

export function startCountingProxy(upstreamHost: string): CountingProxy {
  const requests: CountingProxy['requests'] = [];
  let self = '';
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const url = new URL(req.url);
      const entry: CountingProxy['requests'][number] = { method: req.method, path: url.pathname + url.search, range: req.headers.get('range') ?? undefined, bytes: 0 };
      requests.push(entry);
      const headers = new Headers(req.headers);
      headers.set('host', upstreamHost);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      const res = await fetch(`http://${upstreamHost}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: 'manual', decompress: false } as RequestInit);
      const out = new Headers(res.headers);
      const loc = out.get('location');
      if (loc) out.set('location', loc.replace(`//${upstreamHost}`, `//${self}`));
      out.delete('content-encoding');
      entry.status = res.status;
      const counted = res.body?.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, ctrl) {
            entry.bytes += chunk.byteLength;
            ctrl.enqueue(chunk);
          },
        }),
      );
      return new Response(req.method === 'HEAD' ? null : counted, { status: res.status, headers: out });
    },
  });
  self = `127.0.0.1:${server.port}`;
  return {
    host: self,
    requests,
    count: (method, part) => requests.filter((r) => r.method === method && (!part || r.path.includes(part))).length,
    stop: () => server.stop(true),
  };
}
