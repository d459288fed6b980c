// Public surface of the eStargz library: build, read and verify eStargz / zstd:chunked blobs.
export * from "./constants.ts";
export { EstargzError } from "./errors.ts";
export { parseEstargzFooter, parseLegacyFooter, parseZstdFooter, writeEstargzFooter, writeLegacyFooter, writeZstdFooter, skippableFrame } from "./footer.ts";
export type { FooterResult, ZstdFooter, ZstdFooterResult } from "./footer.ts";
export { FILE_TYPES, normalizeToc, parseToc, resolveHardlink, TocEntrySchema, TocSchema } from "./toc.ts";
export type { FileType, ParsedToc, TocChunk, TocContext, TocEntryJson, TocFile, TocJson } from "./toc.ts";
export { marshalToc, formatModtime } from "./toc-json.ts";
export type { TocEntryOut } from "./toc-json.ts";
export { buildEstargz } from "./writer.ts";
export type { BuildOptions, BuildResult, TarInput } from "./writer.ts";
export { bytesSource, decodeChunkSpan, EstargzReader, fileSource, isLandmark, landmarkOf, openEstargz, readToc } from "./reader.ts";
export type { BlobFormat, ChunkSpec, LandmarkInfo, LocatedToc, OpenOptions, RandomAccessSource } from "./reader.ts";
export { buildTree } from "./tree.ts";
export type { TocTree } from "./tree.ts";
export { verifyBlob } from "./verify.ts";
export type { VerifyOptions, VerifyReport } from "./verify.ts";
export { cleanEntryName } from "./names.ts";
export { sha256Digest } from "./digest.ts";
