// A lazy layer's TOC parsed in a short-lived thread.
//
// Parsing a TOC takes far more memory than what a mounted layer keeps of it: for the 13.7k-entry
// Go toolchain layer, the JSON text, the parsed entries, valibot's checked copy, the TocFile
// objects and the tree the index is built from come to ~50 MB, where the result (the shared layer
// index plus one digest per chunk) is ~3 MB. In the long-lived fetch thread that garbage stayed
// in the process (freed JS memory goes back to the OS late or never while the thread is busy) and
// every TocFile object stayed as long as the layer was mounted. So the fetch thread reads and
// verifies the TOC bytes (readToc), a thread started for this one TOC parses it, builds the layer
// index and the chunk digests, hands them over and is terminated: its whole heap goes with it.
// The fetch thread then serves the layer from the index (tableFromParsed) with no TOC objects.
//
// The thread's entry is lazyfs/fs.ts (the compiled binary's extra module for stargz threads).
import { EstargzError, parseToc, type LandmarkInfo, type ParsedToc } from "./estargz/index.ts";
import type { CompressionKind } from "./estargz/compress.ts";
import { landmarkOf, decodeChunkSpan } from "./estargz/reader.ts";
import { buildLayerIndex } from "./lazyfs/inode-tree.ts";
import { LayerIndex, type IndexColumns, type LayerIndexData } from "./lazyfs/layer-index.ts";
import type { ChunkFile, ChunkRef, ChunkTable } from "./lazyfs/chunks.ts";
import type { ChunkReader } from "./fetcher.ts";
import { repoModule } from "./fuse/module-url.ts";

const DIGEST_BYTES = 32;
const PREFIX = "sha256:";

/** Posted to the parse thread; `json`'s buffer is transferred. */
export interface TocParseRequest {
  type: "stargz-toc-parse";
  layerDigest: string;
  payloadEnd: number;
  json: Uint8Array;
}

/** What the parse thread hands back (structured-cloneable; the index buffer is shared). */
export interface ParsedLayer {
  index: LayerIndexData;
  /**
   * Per chunk (chunk table order), the sha256 its bytes must have (chunkDigest, or a one-chunk
   * file's digest): `chunkCount` × 32 bytes, then one byte per chunk, 1 where there is a digest.
   */
  digests: ArrayBuffer;
  /** Files with data that have no inode in the index (hidden in the root, e.g. the landmarks):
   *  [first chunk id, name, size]. */
  unindexed: [number, string, number][];
  landmark: Pick<LandmarkInfo, "kind" | "prefetchEnd">;
}

type ParseReply = { ok: ParsedLayer } | { error: string };

/** The layer index, chunk digests and landmark of a parsed TOC (what the parse thread computes). */
export function parsedLayerOf(toc: ParsedToc): ParsedLayer {
  const index = buildLayerIndex(toc);
  const li = new LayerIndex(index);
  const n = li.chunkCount;
  const digests = new ArrayBuffer(n * (DIGEST_BYTES + 1));
  const bytes = new Uint8Array(digests, 0, n * DIGEST_BYTES);
  const has = new Uint8Array(digests, n * DIGEST_BYTES, n);
  const owned = new Uint8Array(n);
  const c = li.cols;
  for (let i = 0; i < li.inodeCount; i++) if (c.a1[i] > 0 && !li.isDir(i) && (c.mode[i] & 0o170000) === 0o100000) owned[c.a0[i]] = 1;
  const unindexed: [number, string, number][] = [];
  let id = 0;
  for (const f of toc.files) {
    if (f.type !== "reg" || f.chunks.length === 0) continue;
    if (!owned[id]) unindexed.push([id, f.name, f.size]);
    for (const chunk of f.chunks) {
      const want = chunk.chunkDigest ?? (f.chunks.length === 1 ? f.digest : undefined);
      if (want !== undefined) {
        putHex(bytes, id * DIGEST_BYTES, want, PREFIX.length);
        has[id] = 1;
      }
      id++;
    }
  }
  if (id !== n) throw new Error(`layer index has ${n} chunks, the TOC ${id}`);
  const { kind, prefetchEnd } = landmarkOf(toc);
  return { index, digests, unindexed, landmark: { kind, prefetchEnd } };
}

/** Writes the 32 bytes spelled in hex at `s[from..]` to `out[at..]` (no string or buffer per digest). */
function putHex(out: Uint8Array, at: number, s: string, from: number): void {
  const nibble = (c: number) => (c <= 0x39 ? c - 0x30 : c - 0x57); // the TOC schema allows 0-9a-f only
  for (let i = 0; i < DIGEST_BYTES; i++) out[at + i] = (nibble(s.charCodeAt(from + 2 * i)) << 4) | nibble(s.charCodeAt(from + 2 * i + 1));
}

/** Parse thread body: answer one request and wait to be terminated. */
export function serveTocParse(req: TocParseRequest, port: { postMessage(m: unknown): void }): void {
  let reply: ParseReply;
  try {
    const toc = parseToc(req.json, { layerDigest: req.layerDigest, payloadEnd: req.payloadEnd });
    // The text and the parsed JSON are garbage now: collected here, their memory takes the index
    // build's allocations instead of adding to them (for the Go toolchain layer: ~56 MB peak, not ~75).
    req.json = new Uint8Array(0);
    Bun.gc(true);
    reply = { ok: parsedLayerOf(toc) };
  } catch (e) {
    reply = { error: (e as Error).message };
  }
  port.postMessage(reply);
}

/** Where the parse thread starts (lazyfs/fs.ts dispatches on the request's type). */
const PARSE_THREAD_MODULE = "plugins/snapshotter-stargz/lazyfs/fs.ts";

/**
 * A parse thread for one TOC, started before the TOC is fetched, so that its start-up overlaps the
 * network. parse() may be called once; the thread ends with the answer, or with close().
 */
export class TocParser {
  private readonly worker = new Worker(repoModule(PARSE_THREAD_MODULE), { smol: true });
  private readonly answer: Promise<ParseReply>;
  private ended = false;

  constructor(private readonly layerDigest: string) {
    this.answer = new Promise((resolve) => {
      this.worker.addEventListener("message", (e: MessageEvent) => resolve(e.data as ParseReply));
      this.worker.addEventListener("error", (e) => resolve({ error: `layer ${layerDigest}: TOC parse thread failed: ${e.message}` }));
      this.worker.addEventListener("close", () => resolve({ error: `layer ${layerDigest}: TOC parse thread ended without an answer` }));
    });
  }

  /**
   * Parses `json` (verified TOC bytes; its buffer is transferred and unusable afterwards) there.
   * Errors carry the parser's message (layer digest, entry, detail).
   */
  async parse(payloadEnd: number, json: Uint8Array): Promise<ParsedLayer> {
    if (this.ended) throw new Error(`layer ${this.layerDigest}: TOC parse thread already used`);
    const transfer = json.buffer instanceof ArrayBuffer ? [json.buffer] : [];
    this.worker.postMessage({ type: "stargz-toc-parse", layerDigest: this.layerDigest, payloadEnd, json } satisfies TocParseRequest, transfer);
    try {
      const r = await this.answer;
      if ("error" in r) throw new Error(r.error);
      return r.ok;
    } finally {
      this.close();
    }
  }

  /** Ends the thread (its heap goes with it). */
  close(): void {
    if (this.ended) return;
    this.ended = true;
    this.worker.terminate();
  }
}

/** Parses `json` in a parse thread of its own (see TocParser.parse). */
export function parseTocInThread(layerDigest: string, payloadEnd: number, json: Uint8Array): Promise<ParsedLayer> {
  return new TocParser(layerDigest).parse(payloadEnd, json);
}

/** A file of the table: its chunks are the table's own entries. */
interface TableFile extends ChunkFile {
  chunks: TableChunk[];
}

/**
 * What the chunks of one table share: the layer index's chunk columns, the digests, and the files
 * made so far. The table holds one two-field object per chunk and nothing per file: for the Go
 * toolchain's two layers (15.4k chunks) per-chunk copies of the spans plus a file object, chunk
 * list and name per file took 6.2 MB of the fetch thread's heap (108k objects) and 22 ms to build;
 * a file's object is made when something asks for it (few files are ever fetched).
 */
class TableColumns {
  readonly c: IndexColumns;
  /** Inode of each file by its first chunk (-1 where a chunk is not a file's first, or no inode has it). */
  private readonly inodeOf: Int32Array;
  private readonly files = new Map<number, TableFile>();
  /** The table: chunk `id` at index id. */
  readonly chunks: TableChunk[];

  constructor(
    readonly li: LayerIndex,
    readonly digests: Uint8Array,
    private readonly unindexed: Map<number, [string, number]>,
  ) {
    this.c = li.cols;
    this.inodeOf = new Int32Array(li.chunkCount).fill(-1);
    const c = this.c;
    for (let i = 0; i < li.inodeCount; i++) if (c.a1[i] > 0 && (c.mode[i] & 0o170000) === 0o100000) this.inodeOf[c.a0[i]] = i;
    for (let id = 0; id < li.chunkCount; id++) {
      const first = c.fileFirst[id];
      if (this.inodeOf[first] < 0 && !unindexed.has(first)) throw new Error(`layer index: chunk ${id} belongs to no file`);
    }
    this.chunks = Array.from({ length: li.chunkCount }, (_, id) => new TableChunk(id, this));
  }

  /** The file whose first chunk is `first`. */
  file(first: number): TableFile {
    let f = this.files.get(first);
    if (f) return f;
    const i = this.inodeOf[first];
    const [name, size] = i >= 0 ? [this.li.text(this.c.pathOff[i], this.c.pathLen[i]), this.c.size[i]] : this.unindexed.get(first)!;
    let end = first + 1;
    while (end < this.li.chunkCount && this.c.fileFirst[end] === first) end++;
    f = { name, size, digest: undefined, chunks: this.chunks.slice(first, end) };
    this.files.set(first, f);
    return f;
  }

  /** Chunk ids of each file by name, in chunk order. */
  byFile(): Map<string, number[]> {
    const out = new Map<string, number[]>();
    const fileFirst = this.c.fileFirst;
    let ids: number[] = [];
    for (let id = 0; id < this.li.chunkCount; id++) {
      if (fileFirst[id] === id) {
        ids = [];
        out.set(this.file(id).name, ids);
      }
      ids.push(id);
    }
    return out;
  }
}

class TableChunk implements ChunkRef {
  constructor(
    readonly id: number,
    private readonly t: TableColumns,
  ) {}

  get file(): TableFile {
    return this.t.file(this.t.c.fileFirst[this.id]);
  }
  get index(): number {
    return this.id - this.t.c.fileFirst[this.id];
  }
  get chunkOffset(): number {
    return this.t.c.chunkOffset[this.id];
  }
  get chunkSize(): number {
    return this.t.c.chunkSize[this.id];
  }
  get offset(): number {
    return this.t.c.offset[this.id];
  }
  get compressedEnd(): number {
    return this.t.c.compressedEnd[this.id];
  }
  get innerOffset(): number {
    return this.t.c.innerOffset[this.id];
  }

  /** The digest the chunk's bytes must have (made when asked: few chunks are ever fetched). */
  get chunkDigest(): string | undefined {
    const d = this.t.digests;
    const n = d.length / (DIGEST_BYTES + 1);
    if (!d[n * DIGEST_BYTES + this.id]) return undefined;
    return PREFIX + Buffer.from(d.buffer, d.byteOffset + this.id * DIGEST_BYTES, DIGEST_BYTES).toString("hex");
  }
}

/** The fetch thread's chunk table of a layer parsed in a parse thread: ids as in the index. */
export function tableFromParsed(p: ParsedLayer): ChunkTable {
  const li = new LayerIndex(p.index);
  const t = new TableColumns(li, new Uint8Array(p.digests), new Map(p.unindexed.map(([first, name, size]) => [first, [name, size]])));
  let byFile: Map<string, number[]> | undefined;
  return {
    chunks: t.chunks,
    // Only passthrough's whole-file copies walk it.
    get byFile() {
      return (byFile ??= t.byFile());
    },
  };
}

/** Decodes and verifies chunks of a table from tableFromParsed on this thread. */
export class TableReader implements ChunkReader {
  constructor(
    readonly layerDigest: string,
    readonly compression: CompressionKind,
  ) {}

  decodeChunk(file: ChunkFile, index: number, compressed: Uint8Array): Promise<Uint8Array> {
    const chunk = (file as TableFile).chunks[index];
    if (!chunk) return Promise.reject(new EstargzError(this.layerDigest, file.name, `no chunk ${index} (file has ${file.chunks.length})`));
    return decodeChunkSpan(this.compression, compressed, { layerDigest: this.layerDigest, file: file.name, index, chunk, want: chunk.chunkDigest });
  }
}
