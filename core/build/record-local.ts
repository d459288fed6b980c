// Access recording for layers that are plain directories (estargz-optimize): layers built by
// earlier steps, and base layers that were pulled and unpacked (overlay snapshotter, or a base
// that is not eStargz). While such a build runs, each RUN step sees those overlay lowerdirs
// through read-only FUSE mounts of them (the tree `convert --optimize` serves, with xattrs so
// overlay's opaque markers still work, and passthrough so reads bypass the server), so every file
// a step opens is reported, as a lazily mounted eStargz layer reports it. A dir is mounted once
// per build: committed layers never change. Lowerdirs that are mounts already (lazy eStargz
// layers) are left alone; they record through their own FUSE server.
import { mkdirSync, rmdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { mountFuse } from '../../plugins/snapshotter-stargz/fuse/mount.ts';
import type { FuseMount } from '../../plugins/snapshotter-stargz/fuse/types.ts';
import { DIRFS_MODULE } from '../image/convert-optimize.ts';
import type { DirFsInit } from '../image/convert-dirfs.ts';
import { ownedPrefix } from '../layer/owner.ts';
import { mountPoints } from '../snapshot/mount.ts';
import type { Mount } from '../snapshot/types.ts';
import type { LocalLayerRecorder } from '../solver/solver.ts';

type Recording = Map<string, Set<string>>;

export class LocalAccessRecorder implements LocalLayerRecorder {
  private readonly views = new Map<string, Promise<FuseMount>>();
  private readonly active = new Set<Recording>();
  private closed = false;

  constructor(private readonly tmpDir: string, private readonly log: (line: string) => void) {}

  async wrap(mounts: Mount[]): Promise<{ mounts: Mount[]; lowers: string[] }> {
    const overlay = mounts.length === 1 && mounts[0].type === 'overlay' ? mounts[0] : undefined;
    const opt = overlay?.options.find((o) => o.startsWith('lowerdir='));
    if (!overlay || !opt) return { mounts, lowers: [] };
    const lowers = opt.slice('lowerdir='.length).split(':');
    const mounted = new Set(mountPoints());
    const served = await Promise.all(lowers.map(async (dir) => (mounted.has(dir) ? dir : (await this.view(dir)).mountpoint)));
    const options = overlay.options.map((o) => (o === opt ? `lowerdir=${served.join(':')}` : o));
    return { mounts: [{ ...overlay, options }], lowers };
  }

  private view(dir: string): Promise<FuseMount> {
    if (this.closed) throw new Error('access recording has ended for this build');
    let p = this.views.get(dir);
    if (!p) {
      const at = join(this.tmpDir, `${ownedPrefix('view-')}rec-${randomBytes(6).toString('hex')}`);
      mkdirSync(at, { recursive: true });
      const init: DirFsInit = { dir, xattrs: true, passthrough: true };
      p = mountFuse({
        mountpoint: at,
        fsModule: DIRFS_MODULE,
        fsInit: init,
        options: { fsName: 'edgebuild-record', passthrough: true },
        onAccess: (r) => {
          if (r.path === undefined) return;
          for (const rec of this.active) {
            let files = rec.get(dir);
            if (!files) rec.set(dir, (files = new Set()));
            files.add(r.path);
          }
        },
        onError: (m) => this.log(`recording ${dir}: ${m}`),
      });
      p.catch(() => rmdirSync(at));
      this.views.set(dir, p);
    }
    return p;
  }

  record(): { stop(): Promise<Record<string, string[]>> } {
    const rec: Recording = new Map();
    this.active.add(rec);
    return {
      stop: async () => {
        // Opens are reported as messages posted before the kernel gets its answer; a flush round
        // trip through each view's workers brings in those still on their way.
        if (this.active.has(rec)) await Promise.allSettled([...this.views.values()].map(async (v) => (await v).flush()));
        this.active.delete(rec);
        return Object.fromEntries([...rec].map(([dir, files]) => [dir, [...files]]));
      },
    };
  }

  /** Unmounts every view (the build's steps have all finished). */
  async close(): Promise<void> {
    this.closed = true;
    const all = await Promise.allSettled(this.views.values());
    this.views.clear();
    for (const r of all) {
      if (r.status !== 'fulfilled') continue;
      try {
        await r.value.unmount();
        rmdirSync(r.value.mountpoint);
      } catch (e) {
        this.log(`recording: unmount ${r.value.mountpoint}: ${(e as Error).message}`);
      }
    }
  }
}
