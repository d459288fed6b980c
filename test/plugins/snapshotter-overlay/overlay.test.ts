import { expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { overlaySnapshotter } from '../../../plugins/snapshotter-overlay/index.ts';
import { overlayProblem } from '../../../plugins/snapshotter-overlay/check.ts';
import { snapshotterSuite } from '../../core/layer/snapshotter-suite.ts';

snapshotterSuite('overlay', overlaySnapshotter);

test('[slow] overlay: the init check passes here and names the reason where overlayfs cannot work', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-ovl-check-'));
  try {
    expect(await overlayProblem(dir)).toBeUndefined();
    // /proc cannot hold layer dirs: the check must say so rather than crash.
    expect(await overlayProblem('/proc/edgebuild-test')).toMatch(/^overlayfs is not usable in \/proc\/edgebuild-test: /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
