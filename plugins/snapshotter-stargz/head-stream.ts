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
//
// A cold layer's head can be asked for even before its TOC, with the tail read (speculative, see
// FetchService.open): the link is otherwise idle for the TOC's round trips. Its first bytes tell
// whether the blob has a prefetch region at all (firstEntryName: an unoptimized eStargz blob
// starts with `.no.prefetch.landmark`), and the TOC tells where it ends: the stream is then cut
// there (cut()) or continued by one more request.
import { gunzipSync, constants as zlibConstants } from "node:zlib";
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

/**
 * Name of the first tar entry of a gzip eStargz blob, from the blob's first bytes (the first gzip
 * member holds the first tar header), or undefined when they are too few or not gzip + tar.
 */
export function firstEntryName(head: Uint8Array): string | undefined {
  if (head.length < 18 || head[0] !== 0x1f || head[1] !== 0x8b) return undefined;
  let tar: Uint8Array;
  try {
    // What these bytes hold of the first member, without an error for the rest missing.
    tar = gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  } catch {
    return undefined;
  }
  if (tar.length < 512) return undefined;
  const nul = tar.subarray(0, 100).indexOf(0);
  const name = Buffer.from(tar.buffer, tar.byteOffset, nul < 0 ? 100 : nul).toString("utf8");
  return name.replace(/^\.\//, "");
}

/** Whether a blob whose first entry is `name` has nothing to prefetch (its landmark comes first). */
export function landmarkFirst(name: string | undefined): boolean {
  return name === NO_PREFETCH_LANDMARK || name === PREFETCH_LANDMARK;
}

interface Held {
  at: number;
  bytes: Uint8Array;
  /** Bytes of it not handed out yet; at 0 it is dropped. */
  left: number;
}

/** Bytes of [start, end) of a blob as they arrive, held until someone takes them. */
export class HeadStream {
  /** Where the bytes wanted end (cut() moves it back). */
  end: number;
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

  /** Blob offset up to which bytes have arrived. */
  get reached(): number {
    return this.received;
  }

  push(piece: Uint8Array): void {
    if (this.over) return;
    if (this.received + piece.length > this.end) piece = piece.subarray(0, Math.max(0, this.end - this.received));
    if (piece.length > 0) this.held.push({ at: this.received, bytes: piece, left: piece.length });
    this.received += piece.length;
    if (this.received >= this.end) this.over = true; // all that is wanted is in
    this.notify();
  }

  /** Wants only [start, end): bytes past it are dropped, held or to come. */
  cut(end: number): void {
    if (end >= this.end) return;
    this.end = Math.max(this.start, end);
    this.held = this.held.filter((h) => h.at < this.end);
    const last = this.held.at(-1);
    if (last && last.at + last.bytes.length > this.end) {
      const keep = this.end - last.at;
      last.left -= last.bytes.length - keep;
      last.bytes = last.bytes.subarray(0, keep);
      if (last.left <= 0) this.held.pop();
    }
    if (this.received >= this.end) {
      this.received = this.end;
      this.over = true;
    }
    this.notify();
  }

  /** The first `n` bytes (fewer if the stream ends first), once they are in; undefined when
   *  some were handed out already. */
  async first(n: number): Promise<Uint8Array | undefined> {
    while (this.received < Math.min(this.end, this.start + n) && !this.over) await new Promise<void>((r) => this.wake.push(r));
    const parts: Uint8Array[] = [];
    let at = this.start;
    for (const h of this.held) {
      if (h.at !== at || h.left !== h.bytes.length || at >= this.start + n) break;
      parts.push(h.bytes.subarray(0, Math.min(h.bytes.length, this.start + n - at)));
      at += h.bytes.length;
    }
    if (parts.length === 0) return undefined;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
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
