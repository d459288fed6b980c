// core/snapshot/mount.ts: performing and undoing Mount descriptions.
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mountAll, mountPoints, unmountAll, withMounts } from '../../../core/snapshot/mount.ts';

const work = mkdtempSync(join(tmpdir(), 'eb-mount-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('mountAll / unmountAll', () => {
  test('[slow] an overlay with options longer than a page mounts (relative lowerdirs)', async () => {
    const lowers: string[] = [];
    for (let i = 0; i < 60; i++) {
      const d = join(work, 'layers', `layer-with-a-rather-long-directory-name-${String(i).padStart(3, '0')}`, 'fs');
      mkdirSync(d, { recursive: true });
      writeFileSync(join(d, `f${i}`), String(i));
      lowers.push(d);
    }
    const options = [`lowerdir=${lowers.reverse().join(':')}`];
    expect(options[0].length).toBeGreaterThan(4096);
    await withMounts([{ type: 'overlay', source: 'overlay', options }], async (dir) => {
      expect(readFileSync(join(dir, 'f0'), 'utf8')).toBe('0');
      expect(readFileSync(join(dir, 'f59'), 'utf8')).toBe('59');
    }, work);
    expect(mountPoints().filter((p) => p.startsWith(work))).toEqual([]);
  });

  test('[slow] read-only binds are read-only; stacked and nested mounts all come off', async () => {
    const src = join(work, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'file'), 'data');
    const target = join(work, 'target');
    await mountAll([{ type: 'bind', source: src, options: ['rbind', 'ro'] }], target);
    try {
      expect(readFileSync(join(target, 'file'), 'utf8')).toBe('data');
      expect(() => writeFileSync(join(target, 'x'), 'x')).toThrow(/EROFS|read-only/);
      await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m'] }], join(target, '..', 'target2'));
      await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['size=1m', 'mode=0700'] }], target); // stacked on top
      expect(mountPoints().filter((p) => p === target).length).toBe(2);
    } finally {
      await unmountAll(target);
      await unmountAll(join(work, 'target2'));
    }
    expect(mountPoints().filter((p) => p.startsWith(work))).toEqual([]);
  });

  test('[slow] a failing mount says what and where', async () => {
    await expect(mountAll([{ type: 'overlay', source: 'overlay', options: ['lowerdir=/nonexistent-eb'] }], join(work, 'bad'))).rejects.toThrow(
      `mount overlay overlay on ${join(work, 'bad')} (lowerdir=/nonexistent-eb): ENOENT`,
    );
  });
});
