// Hand-made blobs for the bad-input tests: a real payload from the writer with a TOC we choose.
import * as zlib from "node:zlib";
import { writeEstargzFooter } from "../../../../plugins/snapshotter-stargz/estargz/footer.ts";
import { bytesSource, openEstargz } from "../../../../plugins/snapshotter-stargz/estargz/reader.ts";
import { END_OF_ARCHIVE, padding, regularFileHeader } from "../../../../plugins/snapshotter-stargz/estargz/tar-write.ts";
import { buildEstargz } from "../../../../plugins/snapshotter-stargz/estargz/writer.ts";
import { LAYER } from "./fixtures.ts";

export interface Crafted {
  payload: Uint8Array;
  /** The TOC the writer produced, parsed, for tests to modify. */
  toc: { version: number; entries: Record<string, unknown>[] };
}

export async function craftBase(tar: Uint8Array, chunkSize?: number): Promise<Crafted> {
  const built = await buildEstargz(tar, { chunkSize });
  const reader = await openEstargz(bytesSource(built.blob!), { layerDigest: LAYER });
  const payload = built.blob!.subarray(0, reader.tocOffset);
  const tocMember = zlib.gunzipSync(built.blob!.subarray(reader.tocOffset, built.blob!.length - 51));
  const size = Number.parseInt(new TextDecoder().decode(tocMember.subarray(124, 135)), 8);
  const toc = JSON.parse(new TextDecoder().decode(tocMember.subarray(512, 512 + size)));
  return { payload, toc };
}

/** payload + a gzip member holding `tocJson` as stargz.index.json + the 51-byte footer. */
export function assemble(payload: Uint8Array, tocJson: Uint8Array | string): Uint8Array {
  const json = typeof tocJson === "string" ? new TextEncoder().encode(tocJson) : tocJson;
  const member = zlib.gzipSync(Buffer.concat([regularFileHeader("stargz.index.json", json.length), json, padding(json.length), END_OF_ARCHIVE]));
  return new Uint8Array(Buffer.concat([payload, member, writeEstargzFooter(payload.length)]));
}
