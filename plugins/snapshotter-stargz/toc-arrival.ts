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
      if (tocOffset !== undefined && covered(tocOffset)) done();
      return bytes;
    },
  };
  return { source, arrived };
}
