// What the solver needs from the machine it runs on: a snapshotter, an executor, a way to turn an
// image into snapshots (unpacked or lazily mounted), and mount helpers. The build command and the
// daemon assemble one from plugins.
import type { Snapshotter, Mount } from '../snapshot/types.ts';
import type { Executor } from '../executor/types.ts';
import type { Descriptor } from '../export/types.ts';
import type { Platform } from '../graph/ops.ts';
import type { VertexProgress } from '../progress/events.ts';

export interface ImageInfo {
  /** Normalised reference as given (tag or digest). */
  ref: string;
  /** Manifest digest. */
  digest: string;
  /** "host/repository" the image lives in (for cross-repository mounts when pushing). */
  repository: string;
  /** The full OCI/Docker image config JSON. */
  config: Record<string, any>;
  /** Layer descriptors, bottom first. */
  layers: Descriptor[];
  platform: Platform;
}

export interface LayerRecord {
  /** Committed snapshot holding this layer (with its parents below it). */
  snapshot: string;
  parent?: string;
  /** sha256 of the layer's uncompressed tar, when known. */
  diffID?: string;
  /** The compressed blob this layer came from (image layers). */
  existing?: { descriptor: Descriptor; repository: string; imageRef: string };
  createdBy?: string;
}

export interface UnpackedImage {
  /** Top snapshot (undefined for an image without layers). */
  top?: string;
  layers: LayerRecord[];
}

export interface ImageProvider {
  /** Manifest + config only; no layer is fetched. */
  resolve(ref: string, platform: Platform, progress?: VertexProgress): Promise<ImageInfo>;
  /** Layers become committed snapshots: lazily mounted (stargz) or pulled and unpacked. */
  unpack(image: ImageInfo, progress?: VertexProgress, signal?: AbortSignal): Promise<UnpackedImage>;
  /** The compressed bytes of one layer (from the content store or the registry). */
  openBlob(image: { ref: string; repository: string }, desc: Descriptor): Promise<ReadableStream<Uint8Array>>;
}

export interface Worker {
  root: string;
  /** Id of the snapshotter plugin (overlay, native, stargz, …), when known. */
  snapshotterId?: string;
  snapshotter: Snapshotter;
  executor: Executor;
  images: ImageProvider;
  mount(mounts: Mount[], target: string): Promise<void>;
  unmount(target: string): Promise<void>;
  /** Uncompressed tar of the changes in `snapshot` relative to `parent` (whiteouts for deletions). */
  diff(snapshot: string, parent: string | undefined, opts: { sourceDateEpoch?: number }): Promise<ReadableStream<Uint8Array>>;
  /** Downloads an http(s) URL for ADD; returns the file path and its sha256 digest. */
  fetchUrl?(url: string, signal?: AbortSignal): Promise<{ path: string; digest: string }>;
}
