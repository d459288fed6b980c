import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { spawnSync } from 'node:child_process';
import { tarExporter } from '../../../plugins/exporter-tar/index.ts';
import { describeTree, makeFixture, quiet, sha256, tmp, removeTemps } from '../../core/export/fixture.ts';
import { failAfter } from '../../core/export/fail-after.ts';

afterAll(removeTemps);

const gnuList = (file: string) => spawnSync('tar', ['-tvf', file], { encoding: 'utf8' });

describe('exporter tar', () => {
  test('dest=FILE: GNU tar extracts the same tree', async () => {
    const fx = await makeFixture();
    const dir = tmp('tar');
    const dest = join(dir, 'out.tar');
    await tarExporter().export(fx.input, { dest }, quiet);
    const list = gnuList(dest);
    expect(list.status).toBe(0);
    expect(list.stdout).toContain('etc/conf.hard link to etc/conf');
    expect(list.stdout).toContain('etc/tool-link -> ../bin/tool');
    const x = join(dir, 'x');
    mkdirSync(x);
    expect(spawnSync('tar', ['-xpf', dest, '-C', x, '--same-owner', '--xattrs', '--xattrs-include=*']).status).toBe(0);
    expect(describeTree(x)).toEqual(describeTree(fx.rootfs));
  });

  test('dest=- streams to stdout; SOURCE_DATE_EPOCH makes it reproducible', async () => {
    const run = async () => {
      const fx = await makeFixture({ epoch: 1_000_000_000 });
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c) => chunks.push(c));
      await tarExporter({ stdout: out }).export(fx.input, { dest: '-' }, quiet);
      return Buffer.concat(chunks);
    };
    const [a, b] = [await run(), await run()];
    expect(a.length).toBeGreaterThan(10240);
    expect(sha256(a)).toBe(sha256(b));
  });

  test('failure mid-write leaves no file: cancelled half-way, parent not a directory', async () => {
    const fx = await makeFixture();
    const dir = tmp('tar');
    const dest = join(dir, 'out.tar');
    await expect(tarExporter().export(fx.input, { dest }, quiet, failAfter(5))).rejects.toThrow('cancelled mid-export');
    expect(readdirSync(dir)).toEqual([]);

    writeFileSync(join(dir, 'blocker'), '');
    await expect(tarExporter().export(fx.input, { dest: join(dir, 'blocker', 'out.tar') }, quiet)).rejects.toThrow('blocker');
    expect(readdirSync(dir)).toEqual(['blocker']);
    expect(existsSync(dest)).toBe(false);
  });

  test('dest that is a directory is refused', async () => {
    const fx = await makeFixture();
    const dir = tmp('tar');
    await expect(tarExporter().export(fx.input, { dest: dir }, quiet)).rejects.toThrow(`exporter tar: dest ${dir} is a directory`);
  });
});
