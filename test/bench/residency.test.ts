import { afterAll, expect, test } from 'bun:test';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { dropPageCache } from '../../bench/page-cache.ts';
import { residentBytes } from '../../bench/residency.ts';

// /var/tmp is disk-backed where /tmp may be tmpfs (whose pages cannot be evicted).
const dir = mkdtempSync('/var/tmp/eb-residency-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('after eviction, only the part of a file that was read is resident', () => {
  const file = join(dir, 'data.bin');
  writeFileSync(file, randomBytes(8 << 20));
  const fd = openSync(file, 'r');
  try {
    // Written pages are dirty until synced; fadvise drops only clean ones.
    Bun.spawnSync(['sync', file]);
    expect(dropPageCache(dir)).toBe(1);
    expect(residentBytes(file)).toBe(0);
    readSync(fd, Buffer.alloc(1 << 20), 0, 1 << 20, 0);
  } finally {
    closeSync(fd);
  }
  const resident = residentBytes(file);
  expect(resident).toBeGreaterThanOrEqual(1 << 20);
  expect(resident).toBeLessThan(8 << 20); // readahead adds a little, not the rest of the file
  expect(residentBytes(join(dir, 'data.bin'))).toBe(resident);
});
