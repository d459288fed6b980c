// [worker.oci] gc: the root is brought under maxUsedSpace, least recently used cache first, never
// below reservedSpace, lazily pulled chunk caches counted and pruned too.
import { afterAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import { nativeDriver } from '../../../plugins/snapshotter-native/driver.ts';
import { CacheRecords } from '../../../core/solver/records.ts';
import { ContentStore } from '../../../core/content/store.ts';
import { enforceBudget, lazyUsage, rootUsage } from '../../../core/gc/usage.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);

async function fixture() {
  const root = tempDir('gc-');
  const sn = new DirSnapshotter(join(root, 'plugins', 'snapshotter.native'), nativeDriver);
  const records = new CacheRecords(root);
  // Three independent 100 kB cache entries, used at t=1, 2, 3.
  for (const [i, name] of ['old', 'mid', 'new'].entries()) {
    const mounts = await sn.prepare(`active/${name}`);
    fs.writeFileSync(join(mounts[0].source, 'data'), Buffer.alloc(100_000, i + 1));
    await sn.commit(`cache/${name}`, `active/${name}`);
    const t = new Date(Date.UTC(2026, 0, 1, 0, 0, i + 1)).toISOString();
    records.put({ key: 'sha256:' + String(i).repeat(64), snapshot: `cache/${name}`, layers: [{ snapshot: `cache/${name}` }], description: name, created: t, lastUsed: t });
  }
  // A lazy chunk cache of 50 kB.
  const chunks = join(root, 'plugins', 'snapshotter.stargz', 'cache', 'sha256-' + 'c'.repeat(64));
  fs.mkdirSync(chunks, { recursive: true });
  fs.writeFileSync(join(chunks, '0-0'), Buffer.alloc(50_000, 7));
  const store = new ContentStore(root);
  return { root, sn, store, records };
}

describe('enforceBudget', () => {
  test('du counts the stargz chunk cache', async () => {
    const { root } = await fixture();
    const rows = lazyUsage(root);
    expect(rows.length).toBe(1);
    expect(rows[0].kind).toBe('lazy');
    expect(rows[0].size).toBeGreaterThanOrEqual(50_000);
  });

  test('removes least recently used entries until under maxUsedSpace', async () => {
    const { root, sn, store, records } = await fixture();
    const before = await rootUsage(root, sn, store);
    expect(before).toBeGreaterThanOrEqual(350_000);
    const r = await enforceBudget(root, sn, store, { maxUsedSpace: before - 150_000 });
    expect(r.after).toBeLessThanOrEqual(before - 150_000);
    expect(records.all().map((x) => x.description).sort()).toEqual(['new']);
    expect(await sn.stat('cache/old')).toBeUndefined();
    expect(await sn.stat('cache/new')).toBeDefined();
  });

  test('reservedSpace keeps cache; then the lazy chunk cache goes', async () => {
    const { root, sn, store, records } = await fixture();
    const r = await enforceBudget(root, sn, store, { maxUsedSpace: 250_000, reservedSpace: 250_000 });
    // Cache is ~300 kB, reserved 250 kB: one entry may go, then chunks are pruned for the rest.
    expect(records.all().length).toBe(2);
    expect(lazyUsage(root)).toEqual([]);
    expect(r.after).toBeLessThan(r.before);
  });

  test('within budget nothing is removed', async () => {
    const { root, sn, store, records } = await fixture();
    const r = await enforceBudget(root, sn, store, { maxUsedSpace: 10_000_000 });
    expect(r.removed).toBe(0);
    expect(records.all().length).toBe(3);
  });
});
