// A TCP delay line on loopback in front of the registry: every byte between edgebuild (or a peer
// tool) and the registry passes through it. It holds each direction's bytes for RTT/2 without
// limiting throughput (the kernel here has no netem), makes a new connection cost one RTT like a
// TCP handshake, and counts what the registry sent and the HTTP requests made.
import * as net from 'node:net';

export interface DelayLineStats {
  /** Bytes from the registry to clients (response heads and bodies). */
  bytesDown: number;
  bytesUp: number;
  requests: number;
  connections: number;
}

export interface DelayLine {
  /** "127.0.0.1:PORT": the registry address clients use. */
  host: string;
  readonly rttMs: number;
  /** Changes the delay for new bytes (images are pushed unshaped, then shaping starts). */
  setRtt(ms: number): void;
  stats(): DelayLineStats;
  /** Bytes delivered to clients per 10 ms since the last reset (for EDGEBUILD_BENCH_CHILD_LOG). */
  timeline(): number[];
  reset(): void;
  close(): Promise<void>;
}

/** Past this many queued bytes in one direction the sender is paused (memory bound). */
const HIGH_WATER = 64 << 20;

/** Counts HTTP/1.1 request heads in a client→server byte stream (Content-Length bodies skipped). */
export class RequestCounter {
  count = 0;
  private head = '';
  private bodyLeft = 0;

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, chunk.length - i);
        this.bodyLeft -= n;
        i += n;
        continue;
      }
      // latin1 keeps one char per byte, so indices map back onto the chunk.
      const text = Buffer.from(chunk.buffer, chunk.byteOffset + i, chunk.length - i).toString('latin1');
      const end = (this.head + text).indexOf('\r\n\r\n');
      if (end < 0) {
        this.head = (this.head + text).slice(-65536);
        return;
      }
      const full = (this.head + text).slice(0, end);
      i += end + 4 - this.head.length;
      this.head = '';
      this.count++;
      const len = full.match(/\r\ncontent-length:\s*(\d+)/i);
      this.bodyLeft = len ? Number(len[1]) : 0;
    }
  }
}

/** One direction of a connection: chunks are written to `to` once they are `delayMs` old. */
function pipeDelayed(from: net.Socket, to: net.Socket, delayMs: () => number, onChunk: (c: Buffer) => void, startAt: () => number, onSent?: (bytes: number) => void): void {
  const queue: { due: number; data: Buffer }[] = [];
  let queued = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  // A slow reader on the far side pauses the source, as a TCP window would.
  let blocked = false;
  const send = (data: Buffer) => {
    onSent?.(data.length);
    if (to.destroyed || to.write(data) || blocked) return;
    blocked = true;
    from.pause();
    to.once('drain', () => {
      blocked = false;
      if (queued < HIGH_WATER) from.resume();
    });
  };
  const flush = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0].due <= now) {
      const { data } = queue.shift()!;
      queued -= data.length;
      send(data);
    }
    if (queued < HIGH_WATER && !blocked && from.isPaused()) from.resume();
    if (queue.length) timer = setTimeout(flush, Math.max(0, queue[0].due - now));
    else if (ended && !to.destroyed) to.end();
  };
  from.on('data', (data: Buffer) => {
    onChunk(data);
    const now = performance.now();
    const due = Math.max(now + delayMs(), startAt());
    // Nothing to hold back (loopback profile): no timer hop per chunk.
    if (due <= now && !queue.length) {
      send(data);
      return;
    }
    queue.push({ due, data });
    queued += data.length;
    if (queued >= HIGH_WATER) from.pause();
    if (!timer) timer = setTimeout(flush, Math.max(0, due - performance.now()));
  });
  from.on('end', () => {
    ended = true;
    if (!timer) flush();
  });
}

export async function startDelayLine(upstream: { host: string; port: number }, rttMs: number): Promise<DelayLine> {
  const stats: DelayLineStats = { bytesDown: 0, bytesUp: 0, requests: 0, connections: 0 };
  let bins: number[] = [];
  let resetAt = performance.now();
  const sockets = new Set<net.Socket>();
  let rtt = rttMs;
  const half = () => rtt / 2;
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (client) => {
    stats.connections++;
    sockets.add(client);
    // The handshake's round trip: nothing reaches the registry before one RTT has passed.
    const openedAt = performance.now() + rtt;
    const upstreamSock = net.connect({ host: upstream.host, port: upstream.port, noDelay: true, allowHalfOpen: true });
    sockets.add(upstreamSock);
    const counter = new RequestCounter();
    pipeDelayed(client, upstreamSock, half, (c) => {
      stats.bytesUp += c.length;
      const before = counter.count;
      counter.push(c);
      stats.requests += counter.count - before;
    }, () => openedAt + half());
    pipeDelayed(upstreamSock, client, half, (c) => void (stats.bytesDown += c.length), () => 0, (n) => {
      const bin = Math.floor((performance.now() - resetAt) / 10);
      if (bin >= 0 && bin < 100_000) bins[bin] = (bins[bin] ?? 0) + n;
    });
    // Ends travel through the pipes (after the held bytes); only errors cut both sides at once.
    // Destroying on 'close' would drop bytes still buffered for a slow reader.
    const fail = () => {
      client.destroy();
      upstreamSock.destroy();
    };
    client.on('error', fail);
    upstreamSock.on('error', fail);
    client.on('close', () => sockets.delete(client));
    upstreamSock.on('close', () => sockets.delete(upstreamSock));
  });
  await new Promise<void>((res, rej) => {
    server.once('error', rej);
    server.listen(0, '127.0.0.1', () => res());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    get rttMs() {
      return rtt;
    },
    setRtt: (ms) => void (rtt = ms),
    stats: () => ({ ...stats }),
    timeline: () => Array.from(bins, (n) => n ?? 0),
    reset: () => {
      Object.assign(stats, { bytesDown: 0, bytesUp: 0, requests: 0, connections: 0 });
      bins = [];
      resetAt = performance.now();
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
