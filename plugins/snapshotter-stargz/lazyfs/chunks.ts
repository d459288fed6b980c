// The chunk table of a layer: every verified unit of file data, numbered the same way in the fetch
// thread (this table) and in the FUSE workers (the layer index, inode-tree.ts), so messages carry
// plain numbers.
import { join } from "node:path";
import type { ParsedToc } from "../estargz/index.ts";

/** What the fetch thread knows of a file with data: a TocFile, or the compact table's stand-in
 *  (toc-parse.ts) where the TOC was parsed by a short-lived thread. */
export interface ChunkFile {
  name: string;
  size: number;
  digest: string | undefined;
  chunks: ArrayLike<{ readonly chunkDigest: string | undefined }>;
}

export interface ChunkRef {
  /** Position in the table: the id used in messages. */
  id: number;
  /** The file owning the data (hardlinks resolved). */
  file: ChunkFile;
  /** Index of this chunk inside `file.chunks` (what EstargzReader.decodeChunk takes). */
  index: number;
  chunkOffset: number;
  chunkSize: number;
  /** Compressed span in the blob. */
  offset: number;
  compressedEnd: number;
  innerOffset: number;
}

export interface ChunkTable {
  chunks: ChunkRef[];
  /** Chunk ids of each regular file with data, by TOC name of the owner. */
  byFile: Map<string, number[]>;
}

export function buildChunkTable(toc: ParsedToc): ChunkTable {
  const chunks: ChunkRef[] = [];
  const byFile = new Map<string, number[]>();
  for (const file of toc.files) {
    if (file.type !== "reg" || file.chunks.length === 0) continue;
    const ids: number[] = [];
    file.chunks.forEach((c, index) => {
      const id = chunks.length;
      ids.push(id);
      chunks.push({ id, file, index, chunkOffset: c.chunkOffset, chunkSize: c.chunkSize, offset: c.offset, compressedEnd: c.compressedEnd, innerOffset: c.innerOffset });
    });
    byFile.set(file.name, ids);
  }
  return { chunks, byFile };
}

/** Ids of every chunk of `c`'s file (a file's chunks are numbered one after another). */
export function fileChunkIds(c: ChunkRef): number[] {
  const first = c.id - c.index;
  return Array.from({ length: c.file.chunks.length }, (_, i) => first + i);
}

/** Directory of one layer's cached chunks. */
export function layerCacheDir(cacheDir: string, layerDigest: string): string {
  return join(cacheDir, layerDigest.replace(":", "-"));
}

/** Cache file of one verified chunk: keyed by the blob offset of its member and its offset inside it. */
export function chunkCachePath(cacheDir: string, layerDigest: string, c: Pick<ChunkRef, "offset" | "innerOffset">): string {
  return join(layerCacheDir(cacheDir, layerDigest), `${c.offset}-${c.innerOffset}`);
}

/** Whole-file copy of a multi-chunk file, assembled once all its chunks are cached (passthrough). */
export function fileCachePath(cacheDir: string, layerDigest: string, firstChunk: Pick<ChunkRef, "offset" | "innerOffset">): string {
  return join(layerCacheDir(cacheDir, layerDigest), `file-${firstChunk.offset}-${firstChunk.innerOffset}`);
}
