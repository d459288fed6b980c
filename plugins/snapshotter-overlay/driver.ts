// Overlay: each snapshot's fs is one layer; mounts stack the ancestors as lowerdirs.
import { readFileSync } from 'node:fs';
import { diffOverlayUpper } from '../../core/layer/diff.ts';
import type { DirDriver, SnapshotDirs } from '../../core/layer/dir-snapshotter.ts';
import type { Mount } from '../../core/snapshot/types.ts';

function mounts(s: SnapshotDirs, extra: string[]): Mount[] {
  const bind = (source: string, ro: boolean): Mount[] => [{ type: 'bind', source, options: [ro ? 'ro' : 'rw', 'rbind'] }];
  if (s.kind === 'view') {
    // A view of one layer (or of nothing) needs no overlay: bind it read-only.
    if (s.parents.length === 0) return bind(s.fs, true);
    if (s.parents.length === 1) return bind(s.parents[0], true);
    return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${s.parents.join(':')}`, ...extra] }];
  }
  if (s.parents.length === 0) return bind(s.fs, false);
  return [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${s.parents.join(':')}`, `upperdir=${s.fs}`, `workdir=${s.work}`, ...extra] }];
}

/** Overlay features that make an upperdir depend on its lowers (renamed dirs, metadata-only
 *  copy-ups) would break diffs: where the kernel turns them on by default, turn them off. */
export function overlayFeatureOptions(params = '/sys/module/overlay/parameters'): string[] {
  const on = (name: string) => {
    try {
      return readFileSync(`${params}/${name}`, 'utf8').trim() === 'Y';
    } catch {
      return false;
    }
  };
  return [...(on('redirect_dir') ? ['redirect_dir=off'] : []), ...(on('metacopy') ? ['metacopy=off'] : [])];
}

export const overlayDriver = (extraOptions: string[] = overlayFeatureOptions()): DirDriver => ({
  applyMode: 'overlay',
  populate: async () => {},
  mounts: (s) => mounts(s, extraOptions),
  // The fs dir is the upperdir (or, with no parent, a plain tree without whiteouts).
  diff: (s, opts) => diffOverlayUpper(s.fs, { ...opts, lowers: s.parents }),
});
