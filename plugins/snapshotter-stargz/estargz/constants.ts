// Names, sizes and annotation keys fixed by the eStargz / zstd:chunked formats.

export const TOC_TAR_NAME = "stargz.index.json";
export const PREFETCH_LANDMARK = ".prefetch.landmark";
export const NO_PREFETCH_LANDMARK = ".no.prefetch.landmark";
/** The single byte a landmark file holds. */
export const LANDMARK_CONTENTS = 0x0f;

/** Reference default: 4 MiB of uncompressed data per chunk. */
export const DEFAULT_CHUNK_SIZE = 4 << 20;
/** Reference default for gzip is BestCompression. */
export const DEFAULT_GZIP_LEVEL = 9;
/** Reference default for zstd:chunked is zstd.SpeedDefault, i.e. level 3. */
export const DEFAULT_ZSTD_LEVEL = 3;

export const ESTARGZ_FOOTER_SIZE = 51;
export const LEGACY_FOOTER_SIZE = 47;
/** The zstd:chunked footer payload; the whole skippable frame adds an 8-byte frame header. */
export const ZSTD_FOOTER_PAYLOAD_SIZE = 40;
export const ZSTD_FOOTER_FRAME_SIZE = 48;

export const TOC_DIGEST_ANNOTATION = "containerd.io/snapshot/stargz/toc.digest";
export const UNCOMPRESSED_SIZE_ANNOTATION = "io.containers.estargz.uncompressed-size";
export const ZSTD_MANIFEST_CHECKSUM_ANNOTATION = "io.containers.zstd-chunked.manifest-checksum";
export const ZSTD_MANIFEST_POSITION_ANNOTATION = "io.containers.zstd-chunked.manifest-position";

export const MEDIA_TYPE_GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";
export const MEDIA_TYPE_ZSTD_LAYER = "application/vnd.oci.image.layer.v1.tar+zstd";
