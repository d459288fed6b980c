// The hostile corpus through the eStargz path (what the lazy FS tree is built from): each layer is
// converted with buildEstargz and opened again with openEstargz. A refusal (EstargzError or a
// one-line error naming the entry) counts as contained; an accepted layer must yield a TOC whose
// names all stay inside the layer root and whose hardlinks point at entries of the same layer.
// (Mounting the tree needs snapshotter.stargz, which `plugins ls` does not list yet.)
import { afterAll, expect, test } from 'bun:test';
import { buildEstargz, openEstargz, bytesSource, resolveHardlink } from '../../plugins/snapshotter-stargz/estargz/index.ts';
import { hostileCases } from './hostile-corpus.ts';

const LAYER = 'sha256:' + 'e'.repeat(64);
const tally = { layers: 0, refused: 0, accepted: 0 };
afterAll(() => console.log(`hostile layers as eStargz: ${tally.layers} layers, ${tally.refused} refused, ${tally.accepted} accepted with a clean TOC`));

for (const c of hostileCases('/srv/outside', 'eb-hostile-marker')) {
  test(`eStargz: ${c.name}`, async () => {
    for (const tar of c.layers) {
      tally.layers++;
      let blob: Uint8Array;
      try {
        blob = (await buildEstargz(tar, { chunkSize: 4096 })).blob!;
      } catch (e) {
        const msg = (e as Error).message;
        expect(msg).not.toContain('\n');
        expect(e).not.toBeInstanceOf(TypeError);
        expect(e).not.toBeInstanceOf(RangeError);
        expect(msg).toMatch(/entry|tar|name|layer/i);
        tally.refused++;
        continue;
      }
      const reader = await openEstargz(bytesSource(blob), { layerDigest: LAYER });
      for (const f of reader.toc.files) {
        expect(f.name.startsWith('/')).toBe(false);
        expect(f.name.split('/')).not.toContain('..');
        expect(f.name).not.toContain('\0');
        if (f.type === 'hardlink') expect(reader.toc.byName.has(resolveHardlink(reader.toc, f).name)).toBe(true);
      }
      tally.accepted++;
    }
  });
}
