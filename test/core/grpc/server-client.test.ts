import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import http2 from 'node:http2';
import net from 'node:net';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcClient } from '../../../core/grpc/client.ts';
import { startGrpcServer, type GrpcServer } from '../../../core/grpc/server.ts';
import { Code, GrpcError } from '../../../core/grpc/status.ts';
import { ProtobufError } from '../../../core/grpc/protobuf.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

let dir: string;
let server: GrpcServer;
let client: GrpcClient;
const errors: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'eb-grpc-'));
  server = await startGrpcServer(
    join(dir, 'g.sock'),
    [
      {
        name: 'test.Echo',
        unary: {
          Echo: async (req, ctx) => {
            ctx.trailers['x-seen'] = String(req.length);
            return req;
          },
          Fail: async (req) => {
            throw new GrpcError(Code.NOT_FOUND, `no such thing: ${dec(req)}`);
          },
          Crash: async () => {
            throw new Error('plain error\nsecond line');
          },
          Decode: async () => {
            throw new ProtobufError('Request: truncated varint at byte 2 of 2');
          },
          Slow: (_req, ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')))),
        },
        serverStream: {
          Count: async function* (req) {
            for (let i = 0; i < Number(dec(req)); i++) yield enc(String(i));
          },
          Broken: async function* () {
            yield enc('one');
            throw new GrpcError(Code.DATA_LOSS, 'lost the rest');
          },
        },
      },
    ],
    { onError: (p, c, m) => errors.push(`${p} ${c} ${m}`) },
  );
  client = new GrpcClient(server.socketPath);
});

afterAll(async () => {
  client.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('gRPC over h2c on a unix socket', () => {
  test('socket is created mode 0660', () => {
    expect(statSync(server.socketPath).mode & 0o777).toBe(0o660);
  });

  test('unary round trip with trailing metadata, empty and large messages', async () => {
    const r = await client.unary('/test.Echo/Echo', enc('hello'));
    expect(dec(r.body)).toBe('hello');
    expect(r.metadata['x-seen']).toBe('5');
    expect((await client.unary('/test.Echo/Echo', new Uint8Array(0))).body.length).toBe(0);
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i & 0xff);
    expect((await client.unary('/test.Echo/Echo', big)).body).toEqual(big);
  });

  test('concurrent calls share one connection', async () => {
    const rs = await Promise.all(Array.from({ length: 50 }, (_, i) => client.unary('/test.Echo/Echo', enc(`m${i}`))));
    expect(rs.map((r) => dec(r.body))).toEqual(Array.from({ length: 50 }, (_, i) => `m${i}`));
  });

  test('status codes and messages cross the wire', async () => {
    const e = await client.unary('/test.Echo/Fail', enc('thing "x" ü')).catch((x) => x);
    expect(e).toBeInstanceOf(GrpcError);
    expect(e.code).toBe(Code.NOT_FOUND);
    expect(e.message).toBe('no such thing: thing "x" ü');
    const c = await client.unary('/test.Echo/Crash', enc('')).catch((x) => x);
    expect([c.code, c.message]).toEqual([Code.UNKNOWN, 'plain error']);
    const d = await client.unary('/test.Echo/Decode', enc('')).catch((x) => x);
    expect(d.code).toBe(Code.INVALID_ARGUMENT);
  });

  test('unknown method is UNIMPLEMENTED', async () => {
    const e = await client.unary('/test.Echo/Nope', enc('')).catch((x) => x);
    expect([e.code, e.message]).toEqual([Code.UNIMPLEMENTED, 'unknown method /test.Echo/Nope']);
  });

  test('server streaming, including an empty stream and an error after some messages', async () => {
    expect((await client.serverStream('/test.Echo/Count', enc('3'))).map(dec)).toEqual(['0', '1', '2']);
    expect(await client.serverStream('/test.Echo/Count', enc('0'))).toEqual([]);
    const e = await client.serverStream('/test.Echo/Broken', enc('')).catch((x) => x);
    expect([e.code, e.message]).toEqual([Code.DATA_LOSS, 'lost the rest']);
  });

  test('timeout and cancel: the client gives up and the handler sees the abort', async () => {
    const t = await client.unary('/test.Echo/Slow', enc(''), { timeoutMs: 100 }).catch((x) => x);
    expect(t.code).toBe(Code.DEADLINE_EXCEEDED);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    const c = await client.unary('/test.Echo/Slow', enc(''), { signal: ac.signal }).catch((x) => x);
    expect(c.code).toBe(Code.CANCELLED);
    // The server is still fine.
    expect(dec((await client.unary('/test.Echo/Echo', enc('ok'))).body)).toBe('ok');
  });

  test('malformed frames get a clear status and do not take the server down', async () => {
    const raw = http2.connect('http://localhost', { createConnection: () => net.connect(server.socketPath) });
    const send = (body: Uint8Array, headers: Record<string, string> = {}) =>
      new Promise<Record<string, unknown>>((resolve, reject) => {
        const req = raw.request({ ':method': 'POST', ':path': '/test.Echo/Echo', 'content-type': 'application/grpc', ...headers });
        let h: Record<string, unknown> = {};
        req.on('response', (x) => (h = { ...h, ...x }));
        req.on('trailers', (x) => (h = { ...h, ...x }));
        req.on('data', () => {});
        req.on('close', () => resolve(h));
        req.on('error', reject);
        req.end(body);
      });
    const truncated = await send(new Uint8Array([0, 0, 0, 0, 9, 1, 2]));
    expect(truncated['grpc-status']).toBe(String(Code.INTERNAL));
    expect(String(truncated['grpc-message'])).toContain('stream ended inside a message');
    const compressed = await send(new Uint8Array([1, 0, 0, 0, 1, 1]));
    expect(compressed['grpc-status']).toBe(String(Code.UNIMPLEMENTED));
    const two = await send(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
    expect(String(two['grpc-message'])).toContain('expected one request message, got 2');
    const none = await send(new Uint8Array(0));
    expect(String(none['grpc-message'])).toContain('got 0');
    const notGrpc = await send(enc('{}'), { 'content-type': 'application/json' });
    expect(notGrpc[':status']).toBe(415);
    raw.destroy();
    // A client that sends half a frame and vanishes.
    const sock = net.connect(server.socketPath);
    await new Promise((r) => sock.once('connect', r));
    sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x10garbage');
    sock.destroy();
    expect(dec((await client.unary('/test.Echo/Echo', enc('still here'))).body)).toBe('still here');
  });

  test('a second server on a live socket is refused; a stale socket is taken over', async () => {
    const e = await startGrpcServer(server.socketPath, []).catch((x) => x);
    expect(e.message).toContain('another process is already serving');
    const stalePath = join(dir, 'stale.sock');
    const s1 = await startGrpcServer(stalePath, []);
    // Simulate a crash: the listener goes but the file stays.
    const s2 = await (async () => {
      await s1.close();
      const l = net.createServer().listen(stalePath);
      await new Promise((r) => l.once('listening', r));
      await new Promise((r) => l.close(r));
      return startGrpcServer(stalePath, []);
    })();
    await s2.close();
  });

  test('a call to a socket nobody serves is UNAVAILABLE', async () => {
    const c = new GrpcClient(join(dir, 'nobody.sock'));
    const e = await c.unary('/test.Echo/Echo', enc('x'), { timeoutMs: 5000 }).catch((x) => x);
    expect(e.code).toBe(Code.UNAVAILABLE);
    c.close();
  });
});
