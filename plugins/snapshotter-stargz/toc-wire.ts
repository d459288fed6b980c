// A TOC crossing threads (fetch thread → main → each FUSE handler worker) as the verified TOC JSON
// bytes, parsed again on arrival. A parsed TOC is one object per entry and chunk: structured clone
// of the 13.7k-entry Go toolchain layer took 0.3–0.9 s per hop on the 2-core dev machine, three
// hops per mount; its 4.7 MB of JSON copy in milliseconds and parseToc() takes ~0.1 s. The
// receiver gets the same entries in the same order, so chunk ids agree on every side.
import { parseToc, type EstargzReader, type ParsedToc } from "./estargz/index.ts";

export interface WireToc {
  layerDigest: string;
  /** The TOC JSON, already checked against the TOC digest by the reader that sends it. */
  json: Uint8Array;
  /** End of the compressed payload (the TOC's offset), which chunk spans are checked against. */
  payloadEnd: number;
}

export function tocToWire(reader: EstargzReader): WireToc {
  return { layerDigest: reader.layerDigest, json: reader.tocJson, payloadEnd: reader.payloadEnd };
}

export function tocFromWire(w: WireToc): ParsedToc {
  return parseToc(w.json, { layerDigest: w.layerDigest, payloadEnd: w.payloadEnd });
}
