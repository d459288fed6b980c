// Chunk decoding (inflate + sha256) on worker threads, so a fast registry is not held back by one
// core. Each decoder works synchronously on its own thread (no shared thread pool: see
// LayerFetcher.download) and talks to the fetch thread over a MessagePort the main thread set up.
import { decompressSpan } from "./estargz/compress.ts";

export interface DecodeJob {
  id: number;
  kind: "gzip" | "zstd";
  compressed: Uint8Array;
  innerOffset: number;
  chunkSize: number;
  /** Digest the chunk must have; undefined is refused. */
  want: string | undefined;
}

/** `retryHere`: not a verdict on the data (inflates past the cap, decoder gone): decode it locally. */
export type DecodeResult = { id: number; plain: Uint8Array } | { id: number; error: string; retryHere?: boolean };

/** A decoder that has not answered in this long is taken as gone (so no read can hang on it). */
const DECODE_TIMEOUT_MS = 30_000;

/** Room above the bytes needed, for a member that also holds the next entries' tar headers. */
const SLACK = 16 << 20;

export function runDecode(job: DecodeJob): DecodeResult {
  const need = job.innerOffset + job.chunkSize;
  let plain: Uint8Array;
  try {
    plain = decompressSpan(job.kind, job.compressed, need + SLACK);
  } catch (e) {
    const tooBig = e instanceof RangeError || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    return { id: job.id, error: `cannot decompress: ${(e as Error).message}`, retryHere: tooBig };
  }
  if (plain.length < need) return { id: job.id, error: `decompressed to ${plain.length} bytes, need ${need}` };
  if (job.want === undefined) return { id: job.id, error: "TOC has no digest for this chunk; refusing unverified data" };
  const data = plain.slice(job.innerOffset, need);
  const got = `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
  if (got !== job.want) return { id: job.id, error: `digest mismatch: TOC says ${job.want}, data is ${got}` };
  return { id: job.id, plain: data };
}

/** Decoder thread body: answer jobs on `port` until it closes. */
export function serveDecodes(port: MessagePort): void {
  port.onmessage = (e) => {
    const r = runDecode(e.data as DecodeJob);
    port.postMessage(r, "plain" in r ? [r.plain.buffer as ArrayBuffer] : []);
  };
}

/** The fetch thread's side: jobs go to the decoder with the fewest in flight. */
export class DecodePool {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: DecodeResult) => void>();
  private readonly load: number[];

  constructor(private readonly ports: MessagePort[]) {
    this.load = ports.map(() => 0);
    ports.forEach((p, i) => {
      p.onmessage = (e) => {
        const r = e.data as DecodeResult;
        this.load[i]--;
        const done = this.waiting.get(r.id);
        this.waiting.delete(r.id);
        done?.(r);
      };
    });
  }

  get size(): number {
    return this.ports.length;
  }

  decode(job: Omit<DecodeJob, "id">): Promise<DecodeResult> {
    const id = this.nextId++;
    let best = 0;
    for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i;
    this.load[best]++;
    // A copy of our own to transfer: the span is a view into the whole range's buffer.
    const compressed = job.compressed.slice();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        resolve({ id, error: `decoder thread ${best} did not answer within ${DECODE_TIMEOUT_MS} ms`, retryHere: true });
      }, DECODE_TIMEOUT_MS);
      this.waiting.set(id, (r) => {
        clearTimeout(timer);
        resolve(r);
      });
      this.ports[best].postMessage({ ...job, compressed, id } satisfies DecodeJob, [compressed.buffer as ArrayBuffer]);
    });
  }
}
