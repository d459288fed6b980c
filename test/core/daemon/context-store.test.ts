// The daemon's per-session context copies: first sync asks for every file, a rebuild only for
// changed ones; removed entries go; uploads are checked against the manifest.
import { afterAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ContextStore } from '../../../core/daemon/context-store.ts';
import { contextManifest } from '../../../core/client/context-sync.ts';
import { packTree } from '../../../core/daemon/tar-tree.ts';
import { compileFilter } from '../../../plugins/frontend-dockerfile/dockerignore.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);
const SESSION = '0123456789abcdef0123456789abcdef';

function makeClientDir(): string {
  const dir = tempDir('client-');
  fs.mkdirSync(join(dir, 'src/sub'), { recursive: true });
  fs.writeFileSync(join(dir, 'src/a.txt'), 'aaa');
  fs.writeFileSync(join(dir, 'src/sub/b.txt'), 'bbbb');
  fs.writeFileSync(join(dir, 'big.bin'), 'x'.repeat(10_000));
  fs.symlinkSync('src/a.txt', join(dir, 'link'));
  fs.chmodSync(join(dir, 'src/a.txt'), 0o750);
  return dir;
}

async function sync(store: ContextStore, dir: string, filter?: ReturnType<typeof compileFilter>): Promise<string[]> {
  const entries = contextManifest(dir, filter);
  const missing = await store.sync(SESSION, 'context', { entries });
  if (missing.length) await store.receive(SESSION, 'context', packTree(dir, missing));
  return missing;
}

describe('ContextStore', () => {
  test('first sync asks for every file; a rebuild only for the changed one; deletions apply', async () => {
    const dir = makeClientDir();
    const store = new ContextStore(tempDir('daemon-'));
    expect((await sync(store, dir)).sort()).toEqual(['big.bin', 'src/a.txt', 'src/sub/b.txt']);
    const copy = store.path(SESSION, 'context');
    expect(fs.readFileSync(join(copy, 'src/sub/b.txt'), 'utf8')).toBe('bbbb');
    expect(fs.readlinkSync(join(copy, 'link'))).toBe('src/a.txt');
    expect(fs.statSync(join(copy, 'src/a.txt')).mode & 0o777).toBe(0o750);
    expect(store.ready(SESSION, 'context')).toBe(true);

    expect(await sync(store, dir)).toEqual([]);
    fs.writeFileSync(join(dir, 'src/a.txt'), 'changed');
    fs.rmSync(join(dir, 'src/sub'), { recursive: true });
    expect(await sync(store, dir)).toEqual(['src/a.txt']);
    expect(fs.readFileSync(join(copy, 'src/a.txt'), 'utf8')).toBe('changed');
    expect(fs.existsSync(join(copy, 'src/sub'))).toBe(false);
  });

  test('prune drops only sessions idle longer than the limit', async () => {
    const dir = makeClientDir();
    const store = new ContextStore(tempDir('daemon-'));
    await sync(store, dir);
    expect(store.prune(60_000)).toBe(0);
    expect(store.prune(60_000, Date.now() + 120_000)).toBe(1);
    expect(store.ready(SESSION, 'context')).toBe(false);
    expect((await sync(store, dir)).length).toBe(3); // next build sends everything again
  });

  test('.dockerignore-excluded files never reach the daemon', async () => {
    const dir = makeClientDir();
    const store = new ContextStore(tempDir('daemon-'));
    await sync(store, dir, compileFilter(['*.bin', 'src/sub']));
    const copy = store.path(SESSION, 'context');
    expect(fs.existsSync(join(copy, 'big.bin'))).toBe(false);
    expect(fs.existsSync(join(copy, 'src/sub'))).toBe(false);
    expect(fs.existsSync(join(copy, 'src/a.txt'))).toBe(true);
  });

  test('an upload with content other than the manifest says is refused, naming the file', async () => {
    const dir = makeClientDir();
    const store = new ContextStore(tempDir('daemon-'));
    const entries = contextManifest(dir);
    const missing = await store.sync(SESSION, 'context', { entries });
    fs.writeFileSync(join(dir, 'src/a.txt'), 'tampered');
    await expect(store.receive(SESSION, 'context', packTree(dir, missing))).rejects.toThrow(/context context: file src\/a.txt has sha256 [a-f0-9]{64}, manifest says [a-f0-9]{64}$/);
    expect(store.ready(SESSION, 'context')).toBe(false);
  });

  test('manifest paths must be clean and relative; uploads cannot escape through symlinks', async () => {
    const store = new ContextStore(tempDir('daemon-'));
    await expect(store.sync(SESSION, 'context', { entries: [{ path: 'a/../../x', type: 'dir', mode: 0o755, size: 0, mtimeMs: 0 }] })).rejects.toThrow('context context: entry path "a/../../x" is not a clean relative path');
    const outside = tempDir('outside-');
    const dir = tempDir('client-');
    fs.symlinkSync(outside, join(dir, 'esc'));
    // esc is an absolute symlink to a dir outside; resolved inside the copy's root (as a chroot
    // would) it names <copy>/<that path>, so esc/f is written there.
    await store.sync(SESSION, 'context', { entries: [...contextManifest(dir, undefined, ['esc']), { path: 'esc/f', type: 'file', mode: 0o644, size: 1, mtimeMs: 0, hash: new Bun.CryptoHasher('sha256').update('x').digest('hex') }] });
    // An upload naming esc/f (packed from a dir shaped that way) stays inside the copy.
    const shaped = tempDir('shaped-');
    fs.mkdirSync(join(shaped, 'esc'));
    fs.writeFileSync(join(shaped, 'esc/f'), 'x');
    await store.receive(SESSION, 'context', packTree(shaped, ['esc/f']));
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.readFileSync(join(store.path(SESSION, 'context'), outside, 'f'), 'utf8')).toBe('x');
  });
});
