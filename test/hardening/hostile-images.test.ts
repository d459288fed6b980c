// The hostile layer corpus as registry images: `copy` (push and pull side) and `pull` move the
// bytes untouched (they never interpret a layer); a build FROM each image unpacks it through the
// overlay and the native snapshotter and exports local, tar and oci outputs. A rejected layer fails
// the build with one line naming the layer digest and the entry, leaving no output and no mount;
// a contained one exports a rootfs that passes the case's check. The host tree is checked each time.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { testContext } from '../harness/command-context.ts';
import { copyCommand } from '../../cli/commands/copy.ts';
import { pullCommand } from '../../cli/commands/pull.ts';
import { hostileCases } from './hostile-corpus.ts';
import { gzipLayer, writeLayoutImage } from './hostile-image.ts';
import { escapedMarkers, hostTree } from './host-tree.ts';

const sandbox = mkdtempSync(join(tmpdir(), 'eb-hostimg-'));
const outside = join(sandbox, 'outside');
mkdirSync(join(outside, 'dir'), { recursive: true });
writeFileSync(join(outside, 'secret'), 'host secret');
const marker = `eb-hostile-marker-${randomBytes(4).toString('hex')}`;
const cases = hostileCases(outside, marker);
const layout = join(sandbox, 'layout');
const work = join(sandbox, 'work');
const layerDigests: string[][] = [];
let reg: TestRegistry;
const tally = { builds: 0, rejected: 0, contained: 0, copies: 0, pulls: 0 };

beforeAll(async () => {
  reg = await startRegistry();
  mkdirSync(work);
  for (const [i, c] of cases.entries()) {
    const img = await writeLayoutImage(layout, `c${i}`, c.layers.map(gzipLayer));
    layerDigests.push(img.layers.map((l) => l.digest));
  }
}, 120_000);

afterAll(async () => {
  console.log(`hostile images: ${tally.copies} copies, ${tally.pulls} pulls, ${tally.builds} builds (${tally.rejected} rejected, ${tally.contained} contained)`);
  await reg?.stop();
  rmSync(sandbox, { recursive: true, force: true });
});

const untouched = () => {
  expect(escapedMarkers(marker, [sandbox, dirname(sandbox), outside])).toEqual([]);
  expect(hostTree(outside)).toEqual(['. 755 dir', './dir 755 dir', './secret 644 11b']);
};

describe('hostile images through copy and pull', () => {
  test('[slow] copy pushes and copies back every hostile image byte for byte; pull stores it verified', async () => {
    for (const [i] of cases.entries()) {
      const ctx = testContext({ root: join(work, 'copy-root') });
      expect(await copyCommand.run(['-q', `oci:${layout}:c${i}`, `docker://${reg.host}/hostile:c${i}`], ctx)).toBe(0);
      expect(await copyCommand.run(['-q', `docker://${reg.host}/hostile:c${i}`, `oci:${join(work, 'copied')}:c${i}`], ctx)).toBe(0);
      tally.copies += 2;
      for (const d of layerDigests[i]) {
        const hex = d.slice(7);
        expect(readFileSync(join(work, 'copied', 'blobs', 'sha256', hex))).toEqual(readFileSync(join(layout, 'blobs', 'sha256', hex)));
      }
      expect(await pullCommand.run([`${reg.host}/hostile:c${i}`], testContext({ root: join(work, 'pull-root') }))).toBe(0);
      tally.pulls++;
      for (const d of layerDigests[i]) expect(existsSync(join(work, 'pull-root', 'content', 'blobs', 'sha256', d.slice(7)))).toBe(true);
    }
    untouched();
  }, 300_000);
});

for (const snapshotter of ['overlay', 'native'] as const) {
  describe(`hostile images as a build base (${snapshotter})`, () => {
    const root = join(work, `root-${snapshotter}`);
    for (const [i, c] of cases.entries()) {
      test(`[slow] ${snapshotter}: FROM an image with ${c.name}: ${c.reject ? 'the build fails naming layer and entry' : 'contained'}`, async () => {
        const ctx = join(work, `ctx-${snapshotter}-${i}`);
        mkdirSync(ctx);
        writeFileSync(join(ctx, 'probe.txt'), 'probe');
        writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/hostile:c${i}\nCOPY probe.txt /probe.txt\n`);
        const outs = { local: join(ctx, 'out'), tar: join(ctx, 'out.tar'), oci: join(ctx, 'oci') };
        const r = await edgebuild(['--root', root, 'build', '--snapshotter', snapshotter, '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
          '--output', `type=local,dest=${outs.local}`, '--output', `type=tar,dest=${outs.tar}`, '--output', `type=oci,dest=${outs.oci},tar=false`]);
        tally.builds++;
        if (c.reject) {
          expect(r.code).not.toBe(0);
          const last = r.err.trim().split('\n').at(-1)!;
          const bad = layerDigests[i].at(-1)!;
          expect(last).toContain(`layer ${bad}`);
          expect(last).toMatch(c.reject);
          for (const o of Object.values(outs)) expect(existsSync(o)).toBe(false);
          tally.rejected++;
        } else {
          if (r.code !== 0) throw new Error(`build failed: ${r.err}`);
          expect(readFileSync(join(outs.local, 'probe.txt'), 'utf8')).toBe('probe');
          c.check!(outs.local, snapshotter);
          expect(existsSync(outs.tar) && existsSync(join(outs.oci, 'index.json'))).toBe(true);
          tally.contained++;
        }
        expect(await mountsUnder(root)).toEqual([]);
        untouched();
      }, 60_000);
    }
  });
}
