// Chunk decoding (inflate + sha256 + cache write) on worker threads, so a fast registry is not
// held back by one core. Each decoder works synchronously on its own thread (no shared thread pool:
// see LayerFetcher.download) and talks to the fetch thread over a MessagePort the main thread set
// up. Inflating goes into one reused buffer per thread (native-inflate.ts), and a verified chunk is
// written to the disk cache right here, so on the hot path no chunk-sized buffer is allocated,
// copied or transferred at all.
import { decompressSpan } from "./estargz/compress.ts";
import { NATIVE_ROOM } from "./estargz/decompress-prefix.ts";
import { inflateInto } from "./estargz/native-inflate.ts";
import { writeChunkFile } from "./cache.ts";
import { trimWhenIdle } from "./heap-trim.ts";

export interface DecodeJob {
  id: number;
  kind: "gzip" | "zstd";
  compressed: Uint8Array;
  innerOffset: number;
  chunkSize: number;
  /** Digest the chunk must have; undefined is refused. */
  want: string | undefined;
  /** Disk cache file to write the verified chunk to; without it (or when the write fails) the bytes come back. */
  path?: string;
}

/**
 * `stored`: verified and written to `path`. `plain`: verified bytes (no path, or the write failed:
 * `writeError` says why, and the fetch thread's cache decides what that means).
 * `retryHere`: not a verdict on the data (inflates past the cap, decoder gone): decode it locally.
 */
export type DecodeResult = (
  | { id: number; stored: true }
  | { id: number; plain: Uint8Array; writeError?: string }
  | { id: number; error: string; retryHere?: boolean }
) & {
  /** The job's compressed buffer, handed back for the next job (a decoder thread's answer). */
  spare?: ArrayBuffer;
};

/** A decoder that has not answered in this long is taken as gone (so no read can hang on it). */
const DECODE_TIMEOUT_MS = 30_000;

/** Room above the bytes needed, for a member that also holds the next entries' tar headers. */
const SLACK = 16 << 20;

/** A decoder idle this long frees its inflate buffer and collects (heap-trim.ts). */
const DECODER_IDLE_MS = 250;

/** This thread's inflate buffer, grown to the largest chunk seen (until the thread is idle). */
let scratch = new Uint8Array(0);

function inflate(job: DecodeJob, need: number): Uint8Array {
  if (scratch.byteLength < need + NATIVE_ROOM) scratch = new Uint8Array(need + NATIVE_ROOM);
  const n = inflateInto(job.kind, job.compressed, scratch);
  if (n !== undefined && n >= need) return scratch.subarray(0, n);
  return decompressSpan(job.kind, job.compressed, need + SLACK);
}

export function runDecode(job: DecodeJob): DecodeResult {
  const need = job.innerOffset + job.chunkSize;
  let plain: Uint8Array;
  try {
    plain = inflate(job, need);
  } catch (e) {
    const tooBig = e instanceof RangeError || (e as { code?: string }).code === "ERR_BUFFER_TOO_LARGE";
    return { id: job.id, error: `cannot decompress: ${(e as Error).message}`, retryHere: tooBig };
  }
  if (plain.length < need) return { id: job.id, error: `decompressed to ${plain.length} bytes, need ${need}` };
  if (job.want === undefined) return { id: job.id, error: "TOC has no digest for this chunk; refusing unverified data" };
  const data = plain.subarray(job.innerOffset, need);
  const got = `sha256:${new Bun.CryptoHasher("sha256").update(data).digest("hex")}`;
  if (got !== job.want) return { id: job.id, error: `digest mismatch: TOC says ${job.want}, data is ${got}` };
  if (job.path) {
    try {
      writeChunkFile(job.path, data);
      return { id: job.id, stored: true };
    } catch (e) {
      return { id: job.id, plain: data.slice(), writeError: (e as Error).message };
    }
  }
  return { id: job.id, plain: data.slice() };
}

/** Decoder thread body: answer jobs on `port` until it closes. */
export function serveDecodes(port: MessagePort): void {
  // Between bursts the inflate buffer (up to a 4 MiB chunk) and the spans received are let go.
  const trim = trimWhenIdle(DECODER_IDLE_MS, () => (scratch = new Uint8Array(0)));
  port.onmessage = (e) => {
    const job = e.data as DecodeJob;
    const r = runDecode(job);
    const spare = job.compressed.buffer as ArrayBuffer;
    port.postMessage({ ...r, spare }, "plain" in r ? [r.plain.buffer as ArrayBuffer, spare] : [spare]);
    trim.busy();
  };
}

/** Jobs posted to one decoder at a time: enough to keep it busy between replies, few enough that
 *  a read's chunk never queues behind a long run of background work inside a decoder. */
const PER_DECODER = 2;

/** Compressed buffers kept for reuse: about one per job in flight. Fresh memory costs a page
 *  fault per 4 KiB, which on this kind of VM is ~100x the copy (1.2 MB: 3 ms fresh, 0.03 ms reused):
 *  a 200 MiB cold read spent ~0.15 s of the fetch thread faulting in these copies. */
const SPARE_MAX = 4;
/** Most bytes kept in spare buffers, and for how long once decoding stops (then they are dropped:
 *  an idle fetch thread holds none). */
const SPARE_MAX_BYTES = 16 << 20;
const SPARE_IDLE_MS = 2_000;
/** Spare buffers are sized in these steps (one buffer then fits the next chunks of similar size). */
const SPARE_STEP_BYTES = 256 << 10;

type Queued = { job: DecodeJob; resolve: (r: DecodeResult) => void; promoted?: () => boolean };

/**
 * The fetch thread's side: jobs go to the decoder with the fewest in flight, at most PER_DECODER
 * each; the rest wait here, urgent ones (reads) ahead of background ones (prefetch, neighbours),
 * and a background job a read has come to wait for (`urgent` a function answering true) ahead
 * of the other background ones.
 */
export class DecodePool {
  private nextId = 1;
  private readonly waiting = new Map<number, (r: DecodeResult) => void>();
  private readonly load: number[];
  private readonly urgentQueue: Queued[] = [];
  private readonly backgroundQueue: Queued[] = [];
  private readonly spares: ArrayBuffer[] = [];
  private idle: ReturnType<typeof setTimeout> | undefined;
  /** Buffers allocated for compressed copies (the rest reused one a decoder gave back). */
  buffersAllocated = 0;

  constructor(private readonly ports: MessagePort[]) {
    this.load = ports.map(() => 0);
    ports.forEach((p, i) => {
      p.onmessage = (e) => {
        const r = e.data as DecodeResult;
        if (r.spare) this.keep(r.spare);
        const done = this.waiting.get(r.id);
        if (!done) return; // answered after its timeout: counted off then
        this.waiting.delete(r.id);
        this.load[i]--;
        done(r);
        this.pump();
      };
    });
  }

  get size(): number {
    return this.ports.length;
  }

  /** Jobs waiting for a decoder (not yet posted). */
  get queued(): number {
    return this.urgentQueue.length + this.backgroundQueue.length;
  }

  decode(job: Omit<DecodeJob, "id">, urgent: boolean | (() => boolean) = true): Promise<DecodeResult> {
    const id = this.nextId++;
    // A copy of our own to transfer (the span is a view into the whole range's buffer), into a
    // buffer a decoder gave back when one fits.
    const compressed = this.copyOut(job.compressed);
    return new Promise((resolve) => {
      const q: Queued = { job: { ...job, compressed, id }, resolve, promoted: typeof urgent === "function" ? urgent : undefined };
      (urgent === true ? this.urgentQueue : this.backgroundQueue).push(q);
      this.pump();
    });
  }

  private copyOut(bytes: Uint8Array): Uint8Array {
    const n = bytes.byteLength;
    const i = this.spares.findIndex((b) => b.byteLength >= n);
    const buf = i >= 0 ? this.spares.splice(i, 1)[0] : this.allocate(n);
    const out = new Uint8Array(buf, 0, n);
    out.set(bytes);
    return out;
  }

  private allocate(n: number): ArrayBuffer {
    this.buffersAllocated++;
    return new ArrayBuffer(Math.ceil(n / SPARE_STEP_BYTES) * SPARE_STEP_BYTES);
  }

  /** Keeps a buffer a decoder gave back (in place of a smaller one when full) for a while. */
  private keep(buf: ArrayBuffer): void {
    if (this.spares.length >= SPARE_MAX) {
      let min = 0;
      for (let i = 1; i < this.spares.length; i++) if (this.spares[i].byteLength < this.spares[min].byteLength) min = i;
      if (this.spares[min].byteLength >= buf.byteLength) return;
      this.spares.splice(min, 1);
    }
    if (this.spares.reduce((n, b) => n + b.byteLength, buf.byteLength) > SPARE_MAX_BYTES) return;
    this.spares.push(buf);
    clearTimeout(this.idle);
    this.idle = setTimeout(() => (this.spares.length = 0), SPARE_IDLE_MS);
    (this.idle as { unref?: () => void }).unref?.();
  }

  private takeNext(): Queued | undefined {
    if (this.urgentQueue.length) return this.urgentQueue.shift();
    const i = this.backgroundQueue.findIndex((q) => q.promoted?.());
    return i >= 0 ? this.backgroundQueue.splice(i, 1)[0] : this.backgroundQueue.shift();
  }

  private pump(): void {
    for (;;) {
      let best = 0;
      for (let i = 1; i < this.load.length; i++) if (this.load[i] < this.load[best]) best = i;
      if (this.load[best] >= PER_DECODER) return;
      const next = this.takeNext();
      if (!next) return;
      this.post(best, next);
    }
  }

  private post(i: number, { job, resolve }: Queued): void {
    this.load[i]++;
    const timer = setTimeout(() => {
      this.waiting.delete(job.id);
      this.load[i]--;
      resolve({ id: job.id, error: `decoder thread ${i} did not answer within ${DECODE_TIMEOUT_MS} ms`, retryHere: true });
      this.pump();
    }, DECODE_TIMEOUT_MS);
    this.waiting.set(job.id, (r) => {
      clearTimeout(timer);
      resolve(r);
    });
    this.ports[i].postMessage(job, [job.compressed.buffer as ArrayBuffer]);
  }
}
