import { expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overlaySnapshotter } from '../../../plugins/snapshotter-overlay/index.ts';
import { overlayProblem } from '../../../plugins/snapshotter-overlay/check.ts';
import { overlayFeatureOptions } from '../../../plugins/snapshotter-overlay/driver.ts';
import { diffOverlayUpper } from '../../../core/layer/diff.ts';
import { lsetxattr } from '../../../core/layer/libc.ts';
import { snapshotterSuite } from '../../core/layer/snapshotter-suite.ts';

snapshotterSuite('overlay', overlaySnapshotter);

test('[slow] overlay: the init check passes here and names the reason where overlayfs cannot work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-ovl-check-'));
  try {
    expect(await overlayProblem(dir)).toBeUndefined();
    // A second root on the same filesystem shares the probe: here a read-only bind mount of a dir
    // beside it (same device), where a probe of its own would fail to create anything.
    const other = join(dir, 'other');
    mkdirSync(join(dir, 'src'));
    mkdirSync(other);
    Bun.spawnSync(['mount', '--bind', join(dir, 'src'), other]);
    try {
      Bun.spawnSync(['mount', '-o', 'remount,ro,bind', other]);
      expect(() => mkdirSync(join(other, 'x'))).toThrow(/EROFS|read-only/);
      expect(await overlayProblem(other)).toBeUndefined();
    } finally {
      Bun.spawnSync(['umount', other]);
    }
    // /proc cannot hold layer dirs: the check must say so rather than crash.
    expect(await overlayProblem('/proc/edgebuild-test')).toMatch(/^overlayfs is not usable in \/proc\/edgebuild-test: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('overlay: redirect_dir/metacopy are turned off where the kernel enables them, and diffs refuse them', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-ovl-params-'));
  try {
    writeFileSync(join(dir, 'redirect_dir'), 'Y\n');
    writeFileSync(join(dir, 'metacopy'), 'N\n');
    expect(overlayFeatureOptions(dir)).toEqual(['redirect_dir=off']);
    expect(overlayFeatureOptions(join(dir, 'missing'))).toEqual([]);
    mkdirSync(join(dir, 'upper/moved'), { recursive: true });
    lsetxattr(join(dir, 'upper/moved'), 'trusted.overlay.redirect', Buffer.from('/orig'));
    const { stream } = diffOverlayUpper(join(dir, 'upper'));
    await expect(new Response(stream).arrayBuffer()).rejects.toThrow('upper/moved: has trusted.overlay.redirect: mount overlays with redirect_dir=off,metacopy=off to take diffs');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
