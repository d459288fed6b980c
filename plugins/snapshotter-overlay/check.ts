// Can overlayfs be used here? Mount a tiny overlay inside the plugin root (the same filesystem
// the layers will live on) and write through it, with a whiteout and an opaque dir like layers have.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyLayer } from '../../core/layer/apply.ts';
import { END_OF_ARCHIVE, encodeHeader } from '../../core/layer/tar-writer.ts';
import type { TarEntry } from '../../core/layer/tar-header.ts';
import { mountAll, unmountAll } from '../../core/snapshot/mount.ts';
import { ownedPrefix, sweepDeadEntries } from '../../core/layer/owner.ts';

function probeLayer(): Uint8Array {
  const e = (name: string, type: TarEntry['type']): TarEntry => ({ name, type, mode: 0o755, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: {} });
  return Buffer.concat([encodeHeader(e('.wh.gone', 'file')), encodeHeader(e('opaque', 'dir')), encodeHeader(e('opaque/.wh..wh..opq', 'file')), END_OF_ARCHIVE]);
}

/** Probes made by this process, by filesystem (device): the overlay and stargz plugins both ask,
 *  each for its own root on the same filesystem, at start (a probe is 20-60 ms of mounts). */
const probes = new Map<number, Promise<string | undefined>>();

/** Undefined when overlayfs works in `root`, else the reason it does not. */
export async function overlayProblem(root: string): Promise<string | undefined> {
  try {
    mkdirSync(root, { recursive: true });
    // A check killed half-way leaves its overlay mounted here.
    await sweepDeadEntries(root, ['overlay-check-']);
    const dev = statSync(root).dev;
    let probe = probes.get(dev);
    if (!probe) probes.set(dev, (probe = probeIn(root)));
    return await probe;
  } catch (e) {
    return `overlayfs is not usable in ${root}: ${(e as Error).message.split('\n')[0]}`;
  }
}

async function probeIn(root: string): Promise<string | undefined> {
  let dir: string | undefined;
  try {
    dir = mkdtempSync(join(root, ownedPrefix('overlay-check-')));
    const [lower, upper, work, merged] = ['lower', 'upper', 'work', 'merged'].map((n) => join(dir!, n));
    for (const d of [lower, upper, work, merged]) mkdirSync(d);
    writeFileSync(join(lower, 'gone'), 'x');
    // Whiteouts need mknod and trusted.* xattrs on this filesystem.
    await applyLayer(upper, [probeLayer()], { mode: 'overlay' });
    await mountAll([{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${upper}`, `workdir=${work}`] }], merged);
    try {
      writeFileSync(join(merged, 'written'), 'y');
      const seen = readdirSync(merged).sort().join(',');
      if (seen !== 'opaque,written') return `overlayfs in ${root} shows "${seen}" instead of "opaque,written"`;
    } finally {
      await unmountAll(merged);
    }
    return undefined;
  } catch (e) {
    return `overlayfs is not usable in ${root}: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }
}
