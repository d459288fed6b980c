// Trees over the wire: pack and extract keep files, modes, symlinks, and (for outputs) fifos;
// contexts refuse device entries.
import { afterAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { extractTree, packTree } from '../../../core/daemon/tar-tree.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);

describe('tar-tree', () => {
  test('round trip keeps content, modes, symlinks and long names', async () => {
    const src = tempDir('src-');
    const long = 'd'.repeat(120);
    fs.mkdirSync(join(src, long), { recursive: true });
    fs.writeFileSync(join(src, long, 'f'), 'payload');
    fs.chmodSync(join(src, long, 'f'), 0o741);
    fs.symlinkSync('../x', join(src, 'l'));
    const dst = tempDir('dst-');
    const seen: string[] = [];
    await extractTree(dst, packTree(src), { onFile: (rel) => seen.push(rel) });
    expect(fs.readFileSync(join(dst, long, 'f'), 'utf8')).toBe('payload');
    expect(fs.statSync(join(dst, long, 'f')).mode & 0o7777).toBe(0o741);
    expect(fs.readlinkSync(join(dst, 'l'))).toBe('../x');
    expect(seen).toEqual([`${long}/f`]);
  });

  test('a fifo travels in an output and is refused in a context', async () => {
    const src = tempDir('src-');
    Bun.spawnSync(['mkfifo', join(src, 'pipe')]);
    await expect(new Response(packTree(src)).arrayBuffer()).rejects.toThrow(/pipe: only files, directories and symlinks can be sent/);
    const dst = tempDir('dst-');
    await extractTree(dst, packTree(src, undefined, true), { special: true });
    expect(fs.lstatSync(join(dst, 'pipe')).isFIFO()).toBe(true);
    const ctx = tempDir('ctx-');
    await expect(extractTree(ctx, packTree(src, undefined, true))).rejects.toThrow('tar entry "pipe": type fifo is not allowed here');
  });
});
