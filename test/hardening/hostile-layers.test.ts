// Every hostile layer through the overlay and native snapshotters (applyLayer): rejected with an
// error naming the entry, or contained inside the rootfs. The host tree next to the snapshotter
// root (a directory the hostile paths aim at) must be unchanged afterwards.
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { overlaySnapshotter } from '../../plugins/snapshotter-overlay/index.ts';
import { nativeSnapshotter } from '../../plugins/snapshotter-native/index.ts';
import { withMounts } from '../../core/snapshot/mount.ts';
import { initPlugin } from '../core/layer/snapshotter-suite.ts';
import { chunked } from '../core/layer/fixtures.ts';
import { hostileCases } from './hostile-corpus.ts';
import { escapedMarkers, hostTree } from './host-tree.ts';

const sandbox = mkdtempSync(join(tmpdir(), 'eb-hostile-'));
const outside = join(sandbox, 'outside');
mkdirSync(join(outside, 'dir'), { recursive: true });
writeFileSync(join(outside, 'secret'), 'host secret');
const marker = `eb-hostile-marker-${randomBytes(4).toString('hex')}`;
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

const tally = { tried: 0, rejected: 0, contained: 0 };
afterAll(() => console.log(`hostile layers: ${tally.tried} tried, ${tally.rejected} rejected, ${tally.contained} contained`));

for (const [mode, reg] of [['overlay', overlaySnapshotter], ['native', nativeSnapshotter]] as const) {
  describe(`hostile layers through the ${mode} snapshotter`, () => {
    let n = 0;
    for (const c of hostileCases(outside, marker)) {
      if (c.only && c.only !== mode) continue;
      test(`[slow] ${mode}: ${c.name} is ${c.reject ? 'rejected' : 'contained'}`, async () => {
        const root = join(sandbox, `snap-${mode}-${n++}`);
        const before = hostTree(sandbox, [root]);
        const sn = await initPlugin(reg, root);
        tally.tried++;
        let parent: string | undefined;
        for (const [i, layer] of c.layers.entries()) {
          const last = i === c.layers.length - 1;
          const apply = sn.applyLayer(`l${i}`, parent, chunked(layer));
          if (last && c.reject) {
            await expect(apply).rejects.toThrow(c.reject);
            expect(await sn.stat(`l${i}`)).toBeUndefined();
            tally.rejected++;
          } else await apply;
          parent = `l${i}`;
        }
        if (c.check) {
          await withMounts(await sn.view('look', parent), async (dir) => c.check!(dir, mode), sandbox);
          tally.contained++;
        }
        expect(hostTree(sandbox, [root])).toEqual(before);
        expect(escapedMarkers(marker, [sandbox, dirname(sandbox), outside, root])).toEqual([]);
        // Nothing left in the snapshotter's temp area after a rejection either.
        if (c.reject) expect(readdirSync(join(root, 'snapshots')).filter((d) => d.endsWith('.removing'))).toEqual([]);
        await sn.close();
      });
    }
  });
}
