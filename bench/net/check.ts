// Checks the shaping before anything is timed: RTT as the median time of small HTTP requests on
// one kept-alive connection through the delay line, and rate as a timed bulk read of a stored
// blob (first byte to last, so the RTT does not count against it).
import * as net from 'node:net';

export interface MeasuredNet {
  rttMs: number;
  rateBps: number;
  /** Bytes the rate was measured on. */
  sampleBytes: number;
}

async function requestRtts(host: string, count: number): Promise<number[]> {
  const [h, p] = [host.slice(0, host.lastIndexOf(':')), Number(host.slice(host.lastIndexOf(':') + 1))];
  const sock = net.connect({ host: h, port: p, noDelay: true });
  await new Promise<void>((res, rej) => (sock.once('connect', () => res()), sock.once('error', rej)));
  const times: number[] = [];
  try {
    let buf = '';
    let waiter: (() => void) | undefined;
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      waiter?.();
    });
    for (let i = 0; i < count; i++) {
      buf = '';
      const t0 = performance.now();
      sock.write(`GET /v2/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
      await new Promise<void>((res, rej) => {
        const timer = setTimeout(() => rej(new Error(`no answer from ${host} within 10 s`)), 10_000);
        waiter = () => {
          const head = buf.indexOf('\r\n\r\n');
          const len = Number(buf.match(/content-length:\s*(\d+)/i)?.[1] ?? 0);
          if (head >= 0 && buf.length >= head + 4 + len) {
            clearTimeout(timer);
            res();
          }
        };
      });
      times.push(performance.now() - t0);
    }
  } finally {
    sock.destroy();
  }
  return times;
}

export async function measureNet(host: string, blobPath: string, expectedRateBps?: number): Promise<MeasuredNet> {
  const rtts = (await requestRtts(host, 6)).slice(1).sort((a, b) => a - b);
  const rttMs = rtts[Math.floor(rtts.length / 2)];
  // About two seconds of data at the expected rate; 64 MiB when unlimited.
  const want = expectedRateBps ? Math.max(1 << 20, Math.floor((expectedRateBps / 8) * 2)) : 64 << 20;
  const res = await fetch(`http://${host}${blobPath}`, { headers: { Range: `bytes=0-${want - 1}` } });
  if (!res.ok || !res.body) throw new Error(`shaping check: GET ${blobPath} from ${host}: HTTP ${res.status}`);
  let got = 0;
  let first = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (!first) first = performance.now();
    else got += value.length; // bytes after the first chunk, timed from its arrival
    if (got >= want) {
      await reader.cancel();
      break;
    }
  }
  const secs = (performance.now() - first) / 1000;
  return { rttMs, rateBps: secs > 0 ? (got * 8) / secs : Infinity, sampleBytes: got };
}
