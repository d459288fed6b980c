// Keeps the end of each lazy blob (TOC + footer) on disk, so a layer re-mounts after a restart
// without asking the registry, and the TOC is checked against its digest again when read back.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RandomAccessSource } from "./estargz/index.ts";

export class TocStore {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  private path(digest: string): string {
    return join(this.dir, digest.replace(":", "-"));
  }

  /** The stored tail [size − n, size) of a blob, if any. */
  load(digest: string): Uint8Array | undefined {
    try {
      return readFileSync(this.path(digest));
    } catch {
      return undefined;
    }
  }

  save(digest: string, tail: Uint8Array): void {
    const p = this.path(digest);
    writeFileSync(`${p}.tmp`, tail);
    renameSync(`${p}.tmp`, p);
  }
}

/** Serves reads inside a locally held tail, sends the rest to `remote`, and remembers what it read. */
export class TailSource implements RandomAccessSource {
  /** What was read, until tailFrom() is asked. */
  private seen: { offset: number; bytes: Uint8Array }[] | undefined = [];

  constructor(
    private readonly remote: RandomAccessSource,
    private readonly tail: Uint8Array | undefined,
  ) {}

  get size(): number {
    return this.remote.size;
  }

  async readAt(offset: number, length: number): Promise<Uint8Array> {
    const tailStart = this.size - (this.tail?.length ?? 0);
    const bytes = this.tail && offset >= tailStart ? this.tail.subarray(offset - tailStart, offset - tailStart + length) : await this.remote.readAt(offset, length);
    this.seen?.push({ offset, bytes });
    return bytes;
  }

  /**
   * Bytes [from, size) out of what was read, or undefined if some were never read. Asked once,
   * when the TOC is open: what was read is forgotten then and later reads are not kept (the
   * reader keeps this source as long as the layer is served).
   */
  tailFrom(from: number): Uint8Array | undefined {
    const seen = this.seen?.sort((a, b) => a.offset - b.offset);
    this.seen = undefined;
    if (!seen) return undefined;
    const out = new Uint8Array(this.size - from);
    let covered = from;
    for (const s of seen) {
      const end = s.offset + s.bytes.length;
      if (s.offset > covered || end <= covered) continue;
      out.set(s.bytes.subarray(covered - s.offset, Math.min(s.bytes.length, this.size - s.offset)), covered - from);
      covered = end;
    }
    return covered >= this.size ? out : undefined;
  }
}
