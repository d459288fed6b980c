// What the solver hands an exporter, and what a compressor plugin does. Plain data + callbacks so
// exporters never reach into the solver or the snapshotter.

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: { os: string; architecture: string; variant?: string };
}

/** One layer of the result image, bottom first. */
export interface ExportLayer {
  /** sha256 of the uncompressed tar. */
  diffID: string;
  /** Opens the uncompressed tar of this layer (produced on demand from the snapshot). */
  openTar(): Promise<ReadableStream<Uint8Array>>;
  /** A compressed blob that already exists (a base image layer). Exporters keep it as it is unless
   *  force-compression is asked, as BuildKit does. */
  existing?: {
    descriptor: Descriptor;
    /** Where the bytes can be read: the local content store or a registry repository. */
    open(): Promise<ReadableStream<Uint8Array>>;
    /** "host/repo" the blob lives in, for cross-repository mount / skip when pushing. */
    sourceRepository?: string;
  };
  /** The history entry `created_by` of the step that made it (for output messages). */
  createdBy?: string;
  /** Files build steps opened, as paths in this layer, first open first (access recording; for
   *  estargz-optimize). undefined: nothing was recorded for this layer. */
  accessed?: string[];
}

export interface ExportInput {
  /** Directory holding the final filesystem, readable (local and tar exporters). */
  rootfs: string;
  layers: ExportLayer[];
  /** The OCI image config JSON object; exporters set rootfs.diff_ids from layers. */
  imageConfig: Record<string, unknown>;
  /** True when the target stage is FROM scratch with no layers of an image. */
  scratch: boolean;
  /** SOURCE_DATE_EPOCH seconds, when given, for reproducible output (mtimes, created). */
  sourceDateEpoch?: number;
}

export interface ExportProgress {
  /** A line for the progress stream (e.g. "exporting layers", "pushing sha256:… 12 MB"). */
  log(line: string): void;
}

export interface ExportResult {
  /** Manifest digest (image/oci/docker exporters). */
  digest?: string;
  /** One line per notable thing, e.g. which layers were kept with their compression. */
  notes: string[];
}

export interface Exporter {
  /** attrs: the `--output type=…,k=v` pairs minus `type`. Unknown attrs → error naming them. */
  export(input: ExportInput, attrs: Record<string, string>, progress: ExportProgress, signal?: AbortSignal): Promise<ExportResult>;
}

export interface CompressedBlob {
  /** A temp file holding the compressed bytes (the caller ingests or streams it, then removes it). */
  path: string;
  digest: string;
  size: number;
  mediaType: string;
  /** The diffID the compressed blob decompresses to (estargz adds the TOC entry, so it changes). */
  diffID: string;
  annotations?: Record<string, string>;
  /** Prioritized files placed ahead of the prefetch landmark, in order (estargz with prioritizedFiles). */
  prioritizedFiles?: string[];
}

export interface CompressOptions {
  level?: number;
  /** OCI media types (true) or Docker's. */
  oci: boolean;
  /** Directory for temp output. */
  tmpDir: string;
  /** Compressor-specific extras (estargz: chunk size, prioritized files). */
  extra?: Record<string, unknown>;
}

/** Compressor plugins: gzip, zstd, estargz, zstdchunked, uncompressed. */
export interface Compressor {
  /** Media type this compressor writes. */
  mediaType(oci: boolean): string;
  /** Whether an existing blob of this media type/annotations already is this compression. */
  matches(desc: Descriptor): boolean;
  compress(tar: ReadableStream<Uint8Array>, opts: CompressOptions): Promise<CompressedBlob>;
}
