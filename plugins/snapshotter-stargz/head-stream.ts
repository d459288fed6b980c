// A layer's prefetch region, streamed before the layer's chunk table exists.
//
// The prefetch region of an eStargz blob is its head, [0, landmark offset), and the TOC names the
// landmark. Parsing a TOC into the layer index takes the fetch thread 30-100 ms of CPU per layer
// (python's base layer: 1.26 MB of JSON), and with prefetch waiting for the index the link stayed
// idle from the TOCs' arrival until the last index was built: bench --profile wan python showed
// 100-150 ms without a byte on the link between the TOCs (~250 ms) and the first data (~400 ms),
// then the link full until the end. So the landmark is looked up in the TOC's bytes (no parse),
// the head is asked for at once, and its bytes wait here until the fetcher's prefetch asks for
// the ranges it covers (BlobSource.stream serves them from here, with no request of their own).
// Bytes are dropped as they are handed out; what nobody took goes with release().
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK } from "./estargz/constants.ts";

/**
 * The landmark of a TOC's JSON, found by a byte search (no parse): "prefetch" with the landmark
 * entry's offset, "no-prefetch", or "none". Anything unexpected around the name (xattrs, another
 * field holding the text, odd spacing) gives "unknown": the caller then waits for the parse.
 */
export function scanLandmark(json: Uint8Array): { kind: "prefetch"; offset: number } | { kind: "no-prefetch" | "none" | "unknown" } {
  const buf = Buffer.from(json.buffer, json.byteOffset, json.byteLength);
  const at = buf.indexOf(JSON.stringify(PREFETCH_LANDMARK));
  if (at < 0) return buf.indexOf(JSON.stringify(NO_PREFETCH_LANDMARK)) >= 0 ? { kind: "no-prefetch" } : { kind: "none" };
  const open = buf.lastIndexOf(0x7b /* { */, at);
  const close = buf.indexOf(0x7d /* } */, at);
  if (open < 0 || close < 0) return { kind: "unknown" };
  try {
    const entry = JSON.parse(buf.toString("utf8", open, close + 1)) as { name?: unknown; type?: unknown; offset?: unknown };
    if (entry.name !== PREFETCH_LANDMARK || entry.type !== "reg" || typeof entry.offset !== "number" || !Number.isSafeInteger(entry.offset) || entry.offset < 0) return { kind: "unknown" };
    return { kind: "prefetch", offset: entry.offset };
  } catch {
    return { kind: "unknown" };
  }
}

interface Held {
  at: number;
  bytes: Uint8Array;
  /** Bytes of it not handed out yet; at 0 it is dropped. */
  left: number;
}

/** Bytes of [start, end) of a blob as they arrive, held until someone takes them. */
export class HeadStream {
  readonly end: number;
  /** Blob offset up to which bytes have arrived. */
  private received: number;
  private held: Held[] = [];
  private over = false;
  private wake: (() => void)[] = [];

  constructor(
    readonly start: number,
    length: number,
  ) {
    this.end = start + length;
    this.received = start;
  }

  /** Bytes held now (for tests and the memory bound). */
  get heldBytes(): number {
    let n = 0;
    for (const h of this.held) n += h.left;
    return n;
  }

  push(piece: Uint8Array): void {
    if (this.over) return;
    this.held.push({ at: this.received, bytes: piece, left: piece.length });
    this.received += piece.length;
    this.notify();
  }

  /** No more bytes will come (the stream ended, failed, or the layer no longer wants them). */
  finish(): void {
    this.over = true;
    this.notify();
  }

  /** Drops everything held; takers waiting get what they have and go to the network. */
  release(): void {
    this.held = [];
    this.finish();
  }

  /**
   * Hands [from, to) to `onData` as it arrives. Resolves with the offset reached: `to`, or less
   * when the stream ended early, was released, or a byte was already handed to someone else.
   */
  async take(from: number, to: number, onData: (bytes: Uint8Array) => void): Promise<number> {
    let at = from;
    while (at < to) {
      if (at < this.received) {
        const i = this.held.findIndex((h) => h.at <= at && at < h.at + h.bytes.length);
        if (i < 0 || this.held[i].left === 0) break; // handed out already
        const h = this.held[i];
        const n = Math.min(to, h.at + h.bytes.length) - at;
        onData(h.bytes.subarray(at - h.at, at - h.at + n));
        at += n;
        h.left -= n;
        if (h.left <= 0) this.held.splice(i, 1);
        continue;
      }
      if (this.over) break;
      await new Promise<void>((r) => this.wake.push(r));
    }
    return at;
  }

  private notify(): void {
    for (const w of this.wake.splice(0)) w();
  }
}
