import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeAtomically } from '../../../core/export/atomic.ts';
import { checkAttrs, intAttr } from '../../../core/export/attrs.ts';
import { removeTemps, tmp } from './fixture.ts';

afterAll(removeTemps);

describe('atomic destinations', () => {
  test('a directory at dest is replaced whole only once the new one is complete', async () => {
    const dir = tmp('atomic');
    const dest = join(dir, 'out');
    mkdirSync(dest);
    writeFileSync(join(dest, 'old'), 'old');
    await expect(
      writeAtomically(dest, async (t) => {
        mkdirSync(t);
        writeFileSync(join(t, 'half'), 'x');
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readdirSync(dest)).toEqual(['old']);
    await writeAtomically(dest, async (t) => {
      mkdirSync(t);
      writeFileSync(join(t, 'new'), 'new');
    });
    expect(readdirSync(dir)).toEqual(['out']);
    expect(readFileSync(join(dest, 'new'), 'utf8')).toBe('new');
    expect(readdirSync(dest)).toEqual(['new']);
  });

  test('attribute helpers give one-line errors naming exporter and attribute', () => {
    expect(() => checkAttrs('oci', { dest: 'x', colour: 'red' }, ['dest'])).toThrow('exporter oci: unknown attribute "colour" (accepted: dest)');
    expect(() => intAttr('image', { 'compression-level': '3x' }, 'compression-level', 0, 9)).toThrow('exporter image: attribute compression-level="3x": expected an integer from 0 to 9');
    expect(intAttr('image', { 'compression-level': '9' }, 'compression-level', 0, 9)).toBe(9);
  });
});
