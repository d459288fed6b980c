// A fault-injecting loopback HTTP proxy in front of a real registry. Rules pick requests (method,
// path pattern) and break them: latency, 5xx/429 with Retry-After, a reset or a clean close
// mid-body (truncation), wrong bytes, a stall, or a redirect to another host. Each rule fires a
// given number of times, then requests pass through untouched. Everything is logged.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  | { kind: 'latency'; ms: number }
  | { kind: 'status'; status: number; retryAfter?: string }
  /** Sends the headers and `afterBytes` of the body, then resets the connection (RST). */
  | { kind: 'reset'; afterBytes: number }
  /** Sends the headers (full Content-Length) and `afterBytes` of the body, then closes cleanly. */
  | { kind: 'truncate'; afterBytes: number }
  /** Flips every byte from `at` on (the length stays right, the digest does not). */
  | { kind: 'wrong-bytes'; at?: number }
  /** Sends `afterBytes` of the body, then nothing for `ms` (default: until the client gives up). */
  | { kind: 'stall'; afterBytes: number; ms?: number }
  /** Answers 307 to the same path on `base` (e.g. "http://127.0.0.1:PORT"). */
  | { kind: 'redirect'; base: string };

export interface FaultRule {
  method?: string;
  path?: RegExp;
  fault: Fault;
  /** How many matching requests get the fault (default: all). */
  times?: number;
}

export interface ProxyRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** The fault applied, if any. */
  fault?: Fault['kind'];
}

export interface FaultProxy {
  host: string;
  url: string;
  requests: ProxyRequest[];
  /** Adds a rule; returns a counter of how often it fired. */
  add(rule: FaultRule): { fired: () => number };
  clear(): void;
  stop(): Promise<void>;
}

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-encoding']);

export async function startFaultProxy(upstreamHost: string): Promise<FaultProxy> {
  const rules: { rule: FaultRule; fired: number }[] = [];
  const requests: ProxyRequest[] = [];
  let self = '';
  const openSockets = new Set<import('node:net').Socket>();

  const pick = (req: IncomingMessage, path: string) => {
    for (const r of rules) {
      if (r.rule.method && r.rule.method !== req.method) continue;
      if (r.rule.path && !r.rule.path.test(path)) continue;
      if (r.fired >= (r.rule.times ?? Infinity)) continue;
      r.fired++;
      return r.rule.fault;
    }
    return undefined;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const path = req.url ?? '/';
    const fault = pick(req, path);
    requests.push({ method: req.method ?? '', path, headers: { ...req.headers }, fault: fault?.kind });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (fault?.kind === 'latency') await Bun.sleep(fault.ms);
    if (fault?.kind === 'status') {
      const body = JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: `injected ${fault.status}` }] });
      res.writeHead(fault.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...(fault.retryAfter ? { 'retry-after': fault.retryAfter } : {}) });
      res.end(body);
      return;
    }
    if (fault?.kind === 'redirect') {
      res.writeHead(307, { location: `${fault.base}${path}`, 'content-length': 0 });
      res.end();
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined && k !== 'host' && k !== 'connection') headers.set(k, Array.isArray(v) ? v.join(', ') : v);
    const upstream = await fetch(`http://${upstreamHost}${path}`, {
      method: req.method,
      headers,
      body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
      redirect: 'manual',
      decompress: false,
    } as RequestInit);
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!HOP_HEADERS.has(k)) out[k] = k === 'location' ? v.replace(`//${upstreamHost}`, `//${self}`) : v;
    });
    res.writeHead(upstream.status, out);
    if (req.method === 'HEAD' || !upstream.body) {
      await upstream.body?.cancel();
      res.end();
      return;
    }
    let sent = 0;
    const limit = fault && 'afterBytes' in fault ? fault.afterBytes : Infinity;
    for await (const chunk of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      let piece = Buffer.from(chunk);
      if (fault?.kind === 'wrong-bytes') {
        const from = Math.max(0, (fault.at ?? 0) - sent);
        piece = Buffer.from(piece);
        for (let i = from; i < piece.length; i++) piece[i] ^= 0xff;
      }
      if (sent + piece.length > limit) piece = piece.subarray(0, limit - sent);
      if (piece.length && !res.write(piece)) await new Promise((r) => res.once('drain', r));
      sent += piece.length;
      if (sent >= limit) break;
    }
    if (sent < limit || !fault) return void res.end();
    if (fault.kind === 'reset') res.socket?.resetAndDestroy?.() ?? res.socket?.destroy();
    else if (fault.kind === 'truncate') res.socket?.end();
    else if (fault.kind === 'stall') {
      // Hold the connection open without data; the client's idle timeout must fire.
      await Promise.race([Bun.sleep(fault.ms ?? 600_000), new Promise((r) => res.socket?.once('close', r))]);
      res.socket?.destroy();
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`fault proxy: ${(e as Error).message}`);
      } else res.socket?.destroy();
    });
  });
  server.on('connection', (s) => {
    openSockets.add(s);
    s.on('close', () => openSockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  self = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host: self,
    url: `http://${self}`,
    requests,
    add(rule) {
      const entry = { rule, fired: 0 };
      rules.push(entry);
      return { fired: () => entry.fired };
    },
    clear() {
      rules.length = 0;
      requests.length = 0;
    },
    async stop() {
      for (const s of openSockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
