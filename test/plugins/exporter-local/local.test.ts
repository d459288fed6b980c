import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, statSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { localExporter } from '../../../plugins/exporter-local/index.ts';
import { describeTree, makeFixture, quiet, tmp, removeTemps } from '../../core/export/fixture.ts';
import { failAfter } from '../../core/export/fail-after.ts';

afterAll(removeTemps);

describe('exporter local', () => {
  test('copies the rootfs keeping modes, symlinks and hard links', async () => {
    const fx = await makeFixture();
    const dest = join(tmp('local'), 'out');
    await localExporter().export(fx.input, { dest }, quiet);
    expect(describeTree(dest)).toEqual(describeTree(fx.rootfs));
    expect(describeTree(dest)['bin/su-ish']).toStartWith('file 4755');
    expect(describeTree(dest)['etc/conf.hard']).toContain('hardlink of etc/conf');
  });

  test('SOURCE_DATE_EPOCH clamps mtimes of the copy', async () => {
    const fx = await makeFixture({ epoch: 1_000_000_000 });
    const dest = join(tmp('local'), 'out');
    await localExporter().export(fx.input, { dest }, quiet);
    for (const p of ['bin', 'bin/tool', 'etc/conf']) expect(statSync(join(dest, p)).mtimeMs).toBe(1_000_000_000_000);
  });

  test('merges into an existing dest: same names replaced, others kept', async () => {
    const fx = await makeFixture();
    const dest = join(tmp('local'), 'out');
    mkdirSync(join(dest, 'etc'), { recursive: true });
    writeFileSync(join(dest, 'keep.txt'), 'mine');
    writeFileSync(join(dest, 'etc/conf'), 'old');
    mkdirSync(join(dest, 'bin/tool'), { recursive: true }); // a directory where the export has a file
    const res = await localExporter().export(fx.input, { dest }, quiet);
    expect(res.notes).toEqual([`merged into existing ${dest}`]);
    expect(readFileSync(join(dest, 'keep.txt'), 'utf8')).toBe('mine');
    const { 'keep.txt': _, ...rest } = describeTree(dest);
    expect(rest).toEqual(describeTree(fx.rootfs));
    expect(readdirSync(join(dest, '..')).filter((n) => n.includes('edgebuild-tmp'))).toEqual([]);
  });

  test('a failure half-way through the copy leaves dest as it was and no temp sibling', async () => {
    const fx = await makeFixture();
    const parent = tmp('local');
    const dest = join(parent, 'out');
    mkdirSync(dest);
    writeFileSync(join(dest, 'etc'), 'a file that must survive');
    await expect(localExporter().export(fx.input, { dest }, quiet, failAfter(4))).rejects.toThrow('cancelled mid-export');
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readdirSync(dest)).toEqual(['etc']);
    expect(readFileSync(join(dest, 'etc'), 'utf8')).toBe('a file that must survive');

    const fresh = join(parent, 'fresh');
    await expect(localExporter().export(fx.input, { dest: fresh }, quiet, failAfter(4))).rejects.toThrow('cancelled mid-export');
    expect(existsSync(fresh)).toBe(false);
    expect(readdirSync(parent)).toEqual(['out']);
  });

  test('unknown attribute and missing dest are one-line errors naming the exporter', async () => {
    const fx = await makeFixture();
    await expect(localExporter().export(fx.input, { dest: '/tmp/x', compression: 'gzip' }, quiet)).rejects.toThrow('exporter local: unknown attribute "compression" (accepted: dest)');
    await expect(localExporter().export(fx.input, {}, quiet)).rejects.toThrow('exporter local: attribute dest is required');
  });
});
