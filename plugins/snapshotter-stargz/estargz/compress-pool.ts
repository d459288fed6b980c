// Compress members on several Workers. Members are independent, and MemberStream writes them in
// order, so the blob is byte-for-byte the same whatever the number of workers.
import { compressMember, type CompressionKind } from "./compress.ts";
import { COMPRESS_WORKER_SOURCE, type CompressRequest, type CompressResponse } from "./compress-worker.ts";
import type { MemberCompressor } from "./member-stream.ts";

export interface CompressPool {
  compress: MemberCompressor;
  /** Members to keep in flight so every worker stays busy. */
  inFlight: number;
  close(): void;
}

/** Members smaller than this are compressed inline: posting them costs more than it saves. */
const INLINE_BELOW = 64 << 10;

export function createCompressPool(kind: CompressionKind, level: number, workers: number): CompressPool {
  const pool: Worker[] = [];
  const waiting = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>();
  let nextId = 0;
  let turn = 0;
  const url = URL.createObjectURL(new Blob([COMPRESS_WORKER_SOURCE], { type: "application/javascript" }));
  for (let i = 0; i < workers; i++) {
    const w = new Worker(url);
    w.onmessage = (ev: MessageEvent<CompressResponse>) => {
      const msg = ev.data;
      const p = waiting.get(msg.id);
      if (!p) return;
      waiting.delete(msg.id);
      if ("error" in msg) p.reject(new Error(`compress member: ${msg.error}`));
      else p.resolve(msg.out);
    };
    w.onerror = (ev) => {
      for (const p of waiting.values()) p.reject(new Error(`compress worker failed: ${ev.message}`));
      waiting.clear();
    };
    pool.push(w);
  }
  const compress: MemberCompressor = (plain) => {
    if (plain.length < INLINE_BELOW || pool.length === 0) return compressMember(kind, plain, level);
    const id = nextId++;
    // Copy just this member (a view may sit on the whole input tar) and hand the copy over.
    const data = plain.slice();
    const worker = pool[turn++ % pool.length];
    return new Promise<Uint8Array>((resolve, reject) => {
      waiting.set(id, { resolve, reject });
      worker.postMessage({ id, kind, level, data } satisfies CompressRequest, [data.buffer]);
    });
  };
  return {
    compress,
    inFlight: Math.max(4, workers * 2),
    close: () => {
      for (const w of pool) w.terminate();
      URL.revokeObjectURL(url);
    },
  };
}
