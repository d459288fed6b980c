// gRPC's length-prefixed messages on an HTTP/2 stream: 1 byte compressed flag, 4 bytes big-endian
// length, then the message. We never negotiate compression, so a set flag is a protocol error.
import { Code, GrpcError } from './status.ts';

/** containerd's default maximum (16 MiB); a larger declared length is refused before buffering. */
export const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export function encodeFrame(msg: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + msg.length);
  new DataView(out.buffer).setUint32(1, msg.length);
  out.set(msg, 5);
  return out;
}

/** Splits a byte stream into messages; `where` names the stream in errors. */
export class FrameDecoder {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly where: string,
    private readonly maxBytes = MAX_MESSAGE_BYTES,
  ) {}

  private bytes(): Uint8Array {
    if (this.pending.length !== 1) {
      const all = new Uint8Array(this.pendingBytes);
      let o = 0;
      for (const p of this.pending) {
        all.set(p, o);
        o += p.length;
      }
      this.pending = [all];
    }
    return this.pending[0] ?? new Uint8Array(0);
  }

  /** The first n pending bytes, copied across chunks (n is at most 5). */
  private peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.pending) {
      const take = Math.min(n - o, p.length);
      out.set(p.subarray(0, take), o);
      o += take;
      if (o === n) break;
    }
    return out;
  }

  /** Adds data and returns the messages it completes. Chunks are joined only once a whole
   *  message is there, so a message arriving in many small pieces costs linear time. */
  push(chunk: Uint8Array): Uint8Array[] {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    const out: Uint8Array[] = [];
    while (this.pendingBytes >= 5) {
      const head = this.peek(5);
      const flag = head[0];
      const len = new DataView(head.buffer).getUint32(1);
      if (flag === 1) throw new GrpcError(Code.UNIMPLEMENTED, `${this.where}: compressed message, but no compression was negotiated`);
      if (flag !== 0) throw new GrpcError(Code.INTERNAL, `${this.where}: malformed frame (flag byte ${flag})`);
      if (len > this.maxBytes) throw new GrpcError(Code.RESOURCE_EXHAUSTED, `${this.where}: message of ${len} bytes exceeds the ${this.maxBytes}-byte limit`);
      if (this.pendingBytes < 5 + len) break;
      const buf = this.bytes();
      out.push(buf.slice(5, 5 + len));
      const rest = buf.subarray(5 + len);
      this.pending = rest.length ? [rest] : [];
      this.pendingBytes = rest.length;
    }
    return out;
  }

  /** Throws when the stream ended inside a message. */
  end(): void {
    if (this.pendingBytes > 0) throw new GrpcError(Code.INTERNAL, `${this.where}: stream ended inside a message (${this.pendingBytes} bytes of a frame)`);
  }
}
