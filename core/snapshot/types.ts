// The snapshotter interface, after containerd's: small and mount-based. A snapshotter returns
// mount descriptions; the caller performs them. That keeps overlay, native and stargz swappable
// and lets one run in another process (a proxy snapshotter).

/** One mount(2) the caller performs, like containerd's mount.Mount. */
export interface Mount {
  type: string; // "overlay" | "bind" | "fuse.edgebuild" …
  source: string;
  options: string[]; // e.g. ["lowerdir=/a:/b", "upperdir=…", "workdir=…"] or ["rbind","ro"]
}

export type SnapshotKind = 'view' | 'active' | 'committed';

export interface SnapshotInfo {
  key: string;
  parent?: string;
  kind: SnapshotKind;
  labels: Record<string, string>;
  created: string; // RFC 3339
}

export interface SnapshotUsage {
  size: number; // bytes on disk
  inodes: number;
}

export interface PrepareOptions {
  labels?: Record<string, string>;
}

export interface Snapshotter {
  /** An active (writable) snapshot on top of parent's committed snapshot. */
  prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]>;
  /** A read-only view of parent. */
  view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]>;
  /** Mounts for an existing active snapshot or view. */
  mounts(key: string): Promise<Mount[]>;
  /** Turns active snapshot `key` into committed snapshot `name`. */
  commit(name: string, key: string, opts?: PrepareOptions): Promise<void>;
  remove(key: string): Promise<void>;
  stat(key: string): Promise<SnapshotInfo | undefined>;
  usage(key: string): Promise<SnapshotUsage>;
  walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void>;
  /** Releases resources (mounts this snapshotter holds itself, e.g. FUSE). */
  close(): Promise<void>;
}

/** A layer that lives in a registry, as a remote snapshotter sees it. */
export interface RemoteLayer {
  /** Image reference the layer belongs to (for logs). */
  imageRef: string;
  /** Registry host[:port] and repository, for blob requests through core's registry client. */
  registry: string;
  repository: string;
  descriptor: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> };
  /** From the image config's rootfs.diff_ids, when known. */
  diffID?: string;
}

export type RemotePrepareResult = { lazy: true } | { lazy: false; reason: string };

/** A snapshotter that can present a registry layer as a committed snapshot without pulling it
 *  (stargz). When it answers lazy=false the caller pulls and unpacks the layer as usual. */
export interface RemoteSnapshotter extends Snapshotter {
  prepareRemote(key: string, parent: string | undefined, layer: RemoteLayer, signal?: AbortSignal): Promise<RemotePrepareResult>;
  /** Per lazy layer: digest, size, bytes fetched so far, state, last error. */
  remoteStatus(): { digest: string; imageRef: string; size: number; fetched: number; state: string; lastError?: string }[];
  /** A hint before an image's layers are prepared one by one: start on all of them at once
   *  what does not need the parent (stargz: footers, TOCs, prefetch). With `unlessPresent`
   *  (given as soon as the manifest is known, before the image config and so the chain IDs),
   *  layers committed as remote snapshots already (a rebuild) are left alone. */
  warmRemote?(layers: RemoteLayer[], opts?: { unlessPresent?: boolean }): void;
}

export function isRemoteSnapshotter(s: Snapshotter): s is RemoteSnapshotter {
  return typeof (s as Partial<RemoteSnapshotter>).prepareRemote === 'function';
}

/** Files opened in each layer while a recording ran: layer blob digest (or `snapshot:NAME` for a
 *  layer built locally) → paths as in that layer (no leading slash), in first-open order. */
export type LayerAccesses = Record<string, string[]>;

export interface AccessRecording {
  /** Ends the recording and returns what was opened meanwhile. */
  stop(): Promise<LayerAccesses>;
}

/** A snapshotter that can tell which files of its layers are opened (stargz: its lazy FUSE layers
 *  see every OPEN). Recordings may overlap; each sees every open made while it runs. */
export interface AccessRecorder {
  recordAccess(): AccessRecording;
  /**
   * Whether layers mounted from now on report their opens (default on). Off, a lazy mount opens
   * files without a round trip per open (FUSE zero-message open): `edgebuild build` turns it off
   * unless an output asks for estargz-optimize. Layers already mounted keep their mode.
   */
  setAccessRecording?(on: boolean): void;
}

export function isAccessRecorder(s: unknown): s is AccessRecorder {
  return typeof (s as Partial<AccessRecorder> | undefined)?.recordAccess === 'function';
}
