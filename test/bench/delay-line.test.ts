import { expect, test } from 'bun:test';
import * as net from 'node:net';
import { RequestCounter, startDelayLine } from '../../bench/net/delay-line.ts';

const enc = (s: string) => new TextEncoder().encode(s);

test('request counter counts heads split across chunks and skips Content-Length bodies', () => {
  const c = new RequestCounter();
  c.push(enc('GET /v2/ HTTP/1.1\r\nHost: a\r'));
  expect(c.count).toBe(0);
  c.push(enc('\n\r\nHEAD /v2/x/manifests/1 HTTP/1.1\r\nHost: a\r\n\r\n'));
  expect(c.count).toBe(2);
  // A body that looks like a request head is not one.
  const body = 'GET /fake HTTP/1.1\r\n\r\n';
  c.push(enc(`PUT /v2/x/blobs/uploads/1 HTTP/1.1\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /v2/ HTTP/1.1\r\n\r\n`));
  expect(c.count).toBe(4);
});

/** A TCP server that answers every request head with a fixed 200 response. */
async function httpStub(): Promise<{ port: number; close(): void }> {
  const server = net.createServer((s) => {
    let buf = '';
    s.on('data', (d) => {
      buf += d.toString('latin1');
      while (buf.includes('\r\n\r\n')) {
        buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() };
}

async function exchange(sock: net.Socket): Promise<number> {
  const t0 = performance.now();
  sock.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n\r\n');
  await new Promise<void>((r) => sock.once('data', () => r()));
  return performance.now() - t0;
}

test('delay line holds each direction for RTT/2, charges one RTT to connect, and counts', async () => {
  const stub = await httpStub();
  const line = await startDelayLine({ host: '127.0.0.1', port: stub.port }, 60);
  try {
    const [host, port] = line.host.split(':');
    const sock = net.connect({ host, port: Number(port) });
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const first = await exchange(sock); // handshake RTT + request RTT
    const second = await exchange(sock);
    sock.destroy();
    expect(first).toBeGreaterThanOrEqual(115);
    expect(second).toBeGreaterThanOrEqual(58);
    expect(second).toBeLessThan(115);
    const st = line.stats();
    expect(st.requests).toBe(2);
    expect(st.bytesDown).toBe(2 * 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}'.length);
    expect(st.connections).toBe(1);
    line.reset();
    expect(line.stats().requests).toBe(0);
  } finally {
    await line.close();
    stub.close();
  }
});
