// Worker body for compress-pool.ts: compresses one member per message.
// (In a `bun build --compile` binary this file must be passed as an extra entrypoint.)
import { compressMember, type CompressionKind } from "./compress.ts";

declare const self: Worker;

export interface CompressRequest {
  id: number;
  kind: CompressionKind;
  level: number;
  data: Uint8Array;
}

export type CompressResponse = { id: number; out: Uint8Array } | { id: number; error: string };

self.onmessage = (ev: MessageEvent<CompressRequest>) => {
  const { id, kind, level, data } = ev.data;
  try {
    let out = compressMember(kind, data, level);
    // Transfer needs a buffer we own entirely.
    if (out.byteOffset !== 0 || out.byteLength !== out.buffer.byteLength) out = out.slice();
    self.postMessage({ id, out } satisfies CompressResponse, [out.buffer as ArrayBuffer]);
  } catch (e) {
    self.postMessage({ id, error: (e as Error).message } satisfies CompressResponse);
  }
};
