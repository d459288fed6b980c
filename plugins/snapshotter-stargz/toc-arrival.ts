// When a layer's footer and TOC bytes have arrived, before the TOC is decompressed, parsed and
// checked (tens of ms of CPU for a big TOC). Other layers' prefetch waits for this, not for the
// parse: it only has to keep the link free while TOC bytes are on their way.
import { ESTARGZ_FOOTER_SIZE } from "./estargz/constants.ts";
import { parseEstargzFooter } from "./estargz/footer.ts";
import type { RandomAccessSource } from "./estargz/index.ts";

export interface TocArrival {
  /** Reads through this are watched. */
  source: RandomAccessSource;
  /** Resolves once the reads made cover an eStargz footer and the TOC it points at. Never
   *  rejects; other formats (or a TOC never read) leave it pending: race it with the open. */
  arrived: Promise<void>;
}

export function watchTocArrival(remote: RandomAccessSource): TocArrival {
  const size = remote.size;
  const read: [number, number][] = [];
  let done: () => void = () => {};
  const arrived = new Promise<void>((r) => (done = r));
  let tocOffset: number | undefined;
  let arrivedNow = false;
  const covered = (from: number) => {
    // Reads are few (footer, then maybe the TOC): a scan from `from` over them is enough.
    let at = from;
    for (let moved = true; moved && at < size; ) {
      moved = false;
      for (const [a, b] of read) if (a <= at && b > at) (at = b), (moved = true);
    }
    return at >= size;
  };
  const source: RandomAccessSource = {
    size,
    readAt: async (offset, length) => {
      const bytes = await remote.readAt(offset, length);
      read.push([offset, offset + bytes.length]);
      if (tocOffset === undefined && offset + bytes.length === size && bytes.length >= ESTARGZ_FOOTER_SIZE) {
        const f = parseEstargzFooter(bytes.subarray(bytes.length - ESTARGZ_FOOTER_SIZE));
        if ("tocOffset" in f && f.tocOffset < size) tocOffset = f.tocOffset;
      }
      if (tocOffset !== undefined && covered(tocOffset) && !arrivedNow) {
        arrivedNow = true;
        done();
        // What waited for this (other layers' prefetch and head streams) gets its requests out
        // before this TOC's decompress, check and parse take the thread for tens of ms.
        await new Promise((r) => setTimeout(r, 0));
      }
      return bytes;
    },
  };
  return { source, arrived };
}

/**
 * The first read of a blob is its tail: the footer, and the TOC too when the read is long enough,
 * which saves the TOC's own request (a round trip, ~50-70 ms at 20 ms RTT). A TOC's share of its
 * blob is 0.17-0.71% in the bench's Debian-built images (26 blobs, 8-126 MB; most files small)
 * and smaller for big files, so the guess is 0.75% of the blob, at least 64 KiB, at most 1 MiB:
 * a too-short guess costs the round trip it tried to save, a too-long one its extra bytes.
 */
export function tocTailGuess(blobSize: number): number {
  return Math.min(TOC_TAIL_MAX_BYTES, Math.max(TOC_TAIL_MIN_BYTES, Math.ceil(blobSize * TOC_TAIL_SHARE)));
}
const TOC_TAIL_SHARE = 0.0075;
const TOC_TAIL_MIN_BYTES = 64 << 10;
const TOC_TAIL_MAX_BYTES = 1 << 20;
