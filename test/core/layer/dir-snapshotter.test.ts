// DirSnapshotter.commitOnto: a layer-diff snapshot filled before its parent existed is committed
// as a child of that parent (the stargz snapshotter mounts lazy layers that way, all at once).
// The metadata file is synced for changes to committed snapshots only.
import { afterAll, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import { OWNER_LABEL } from '../../../core/layer/owner.ts';
import { overlayDriver } from '../../../plugins/snapshotter-overlay/driver.ts';
import { nativeDriver } from '../../../plugins/snapshotter-native/driver.ts';
import { removeTempDirs, tempDir } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);

test('commitOnto records the parent given at commit, keeps the fs, drops the owner label', async () => {
  const root = tempDir('dirsn-');
  const s = new DirSnapshotter(root, overlayDriver([]));
  await s.prepare('staged-upper', undefined, { labels: { a: '1' } });
  const dir = join(s.store.dir(s.store.require('staged-upper').id), 'fs');
  writeFileSync(join(dir, 'f'), 'upper');
  await s.prepare('staged-lower', undefined);
  await s.commit('lower', 'staged-lower');
  await s.commitOnto('upper', 'staged-upper', 'lower', { labels: { b: '2' } });
  const info = await s.stat('upper');
  expect(info).toMatchObject({ kind: 'committed', parent: 'lower', labels: { a: '1', b: '2' } });
  expect(OWNER_LABEL in info!.labels).toBe(false);
  expect(await s.stat('staged-upper')).toBeUndefined();
  // The same dir, now the top of a two-layer chain.
  const mounts = await s.view('v', 'upper');
  expect(mounts[0].options.find((o) => o.startsWith('lowerdir='))).toBe(`lowerdir=${dir}:${join(s.store.dir(s.store.require('lower').id), 'fs')}`);
  // Another process sees it too.
  expect((await new DirSnapshotter(root, overlayDriver([])).stat('upper'))?.parent).toBe('lower');
});

test('commitOnto refuses a missing or uncommitted parent, a snapshot that has a parent, and a full-copy driver', async () => {
  const root = tempDir('dirsn-');
  const s = new DirSnapshotter(root, overlayDriver([]));
  await s.prepare('a', undefined);
  await expect(s.commitOnto('x', 'a', 'nope')).rejects.toThrow('"nope" does not exist');
  await s.prepare('active-parent', undefined);
  await expect(s.commitOnto('x', 'a', 'active-parent')).rejects.toThrow('"active-parent" is active, expected committed');
  expect(await s.stat('a')).toMatchObject({ kind: 'active' });
  await s.commit('base', 'active-parent');
  await s.prepare('child', 'base');
  await expect(s.commitOnto('x', 'child', 'base')).rejects.toThrow('already has parent "base"');
  await s.commitOnto('top', 'a', undefined);
  expect(await s.stat('top')).toMatchObject({ kind: 'committed', parent: undefined });

  const n = new DirSnapshotter(tempDir('dirsn-'), nativeDriver);
  await n.prepare('a', undefined);
  await expect(n.commitOnto('x', 'a', undefined)).rejects.toThrow('only layer-diff (overlay) snapshots');
});

test.skipIf(Bun.which('strace') === null)('metadata is fsynced when a committed snapshot changes, not for active ones', () => {
  const dir = tempDir('dirsn-sync-');
  const repo = resolve(import.meta.dir, '../../..');
  // chdir("/") marks the steps in the trace.
  writeFileSync(
    join(dir, 'steps.ts'),
    `import { DirSnapshotter } from '${repo}/core/layer/dir-snapshotter.ts';
import { overlayDriver } from '${repo}/plugins/snapshotter-overlay/driver.ts';
const s = new DirSnapshotter('${dir}/root', overlayDriver([]));
await s.prepare('a', undefined);
process.chdir('/');
await s.commit('c', 'a');
process.chdir('/');
await s.prepare('b', 'c');
await s.remove('b');
process.chdir('/');
await s.remove('c');
`,
  );
  const p = Bun.spawnSync(['strace', '-f', '-qq', '-e', 'trace=fsync,fdatasync,chdir', '-o', join(dir, 'trace'), process.execPath, join(dir, 'steps.ts')], { stderr: 'pipe' });
  expect(p.exitCode).toBe(0);
  const calls = readFileSync(join(dir, 'trace'), 'utf8').split('\n').map((l) => /\b(fsync|fdatasync|chdir)\(/.exec(l)?.[1]).filter(Boolean);
  // prepare: none; commit: one; prepare + remove of an active snapshot: none; remove of a committed one: one.
  expect(calls.join(' ')).toBe('chdir fsync chdir chdir fsync');
});
