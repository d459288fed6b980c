// Overlay: each snapshot's fs is one layer; mounts stack the ancestors as lowerdirs.
import { diffOverlayUpper } from '../../core/layer/diff.ts';
import type { DirDriver, SnapshotDirs } from '../../core/layer/dir-snapshotter.ts';
import type { Mount } from '../../core/snapshot/types.ts';

function mounts(s: SnapshotDirs): Mount[] {
  const bind = (source: string, ro: boolean): Mount[] => [{ type: 'bind', source, options: [ro ? 'ro' : 'rw', 'rbind'] }];
  if (s.kind === 'view') {
    // A view of one layer (or of nothing) needs no overlay: bind it read-only.
    if (s.parents.length === 0) return bind(s.fs, true);
    if (s.parents.length === 1) return bind(s.parents[0], true);
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${s.parents.join(':')}`] }];
  }
  if (s.parents.length === 0) return bind(s.fs, false);
  return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${s.parents.join(':')}`, `upperdir=${s.fs}`, `workdir=${s.work}`] }];
}

export const overlayDriver: DirDriver = {
  applyMode: 'overlay',
  populate: async () => {},
  mounts,
  // The fs dir is the upperdir (or, with no parent, a plain tree without whiteouts).
  diff: (s, opts) => diffOverlayUpper(s.fs, { ...opts, lowers: s.parents }),
};
