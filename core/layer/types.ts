// What the overlay and native snapshotters offer beyond the containerd-like Snapshotter: unpacking
// a layer into a committed snapshot, and the layer (diff) of a snapshot against its parent.
import type { Snapshotter, PrepareOptions } from '../snapshot/types.ts';
import type { DiffOptions, LayerDigest, LayerStream } from './diff.ts';
import type { TarSource } from './tar-reader.ts';

export interface LayerSnapshotter extends Snapshotter {
  /** prepare + apply + commit, as containerd's unpacker does: committed snapshot `key` on top of
   *  `parent` holding the uncompressed layer `tar`. Returns the tar's diffID and size. */
  applyLayer(key: string, parent: string | undefined, tar: TarSource, opts?: PrepareOptions): Promise<LayerDigest>;
  /** The layer that snapshot `key` (active or committed) adds on top of its parent. */
  diff(key: string, opts?: DiffOptions): Promise<LayerStream>;
}

export type { DiffOptions, LayerDigest, LayerStream, TarSource };
