// Native: every snapshot is a full copy of its parent (cp -a, reflinks where the filesystem
// has them, hardlinks kept); diffs compare the copy with the parent.
import { diffDirs } from '../../core/layer/diff.ts';
import type { DirDriver, SnapshotDirs } from '../../core/layer/dir-snapshotter.ts';
import type { Mount } from '../../core/snapshot/types.ts';

async function copyTree(from: string, to: string): Promise<void> {
  const p = Bun.spawn(['cp', '-a', '--reflink=auto', `${from}/.`, `${to}/`], { stdout: 'ignore', stderr: 'pipe' });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`copying snapshot ${from} to ${to}: ${err.trim().split('\n')[0] || `cp exited ${code}`}`);
}

function mounts(s: SnapshotDirs): Mount[] {
  // A view needs no copy of its own: committed snapshots never change, so bind the parent.
  if (s.kind === 'view') return [{ type: 'bind', source: s.parents[0] ?? s.fs, options: ['ro', 'rbind'] }];
  return [{ type: 'bind', source: s.fs, options: ['rw', 'rbind'] }];
}

export const nativeDriver: DirDriver = {
  applyMode: 'native',
  populate: async (s) => {
    if (s.kind === 'active' && s.parents.length > 0) await copyTree(s.parents[0], s.fs);
  },
  mounts,
  diff: (s, opts) => diffDirs(s.parents[0], s.fs, opts),
};
