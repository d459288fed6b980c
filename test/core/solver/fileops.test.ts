import { beforeEach, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyFileActions, archiveKind, type SourceTree } from '../../../core/solver/fileops.ts';
import { checksumPaths } from '../../../core/solver/checksum.ts';
import { matchPath } from '../../../core/solver/glob.ts';
import type { CopyAction } from '../../../core/graph/ops.ts';

let src: string;
let dest: string;
const copy = (over: Partial<CopyAction>): CopyAction => ({
  action: 'copy', src: 'ctx', srcPaths: [], dest: '/', followSymlinks: true, dirContentsOnly: true,
  allowWildcard: true, allowEmptyWildcard: false, createDestPath: true, attemptUnpack: false, ...over,
});
const tree = (root: string, over: Partial<SourceTree> = {}): SourceTree => ({ root, local: true, ...over });
const list = (dir: string): string[] => {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = fs.lstatSync(join(d, n));
      out.push(st.isDirectory() ? r + '/' : st.isSymbolicLink() ? `${r} -> ${fs.readlinkSync(join(d, n))}` : r);
      if (st.isDirectory()) walk(join(d, n), r);
    }
  };
  walk(dir, '');
  return out;
};

beforeEach(() => {
  src = fs.mkdtempSync(join(tmpdir(), 'eb-src-'));
  dest = fs.mkdtempSync(join(tmpdir(), 'eb-dest-'));
  fs.mkdirSync(join(src, 'dir/sub'), { recursive: true });
  fs.writeFileSync(join(src, 'a.txt'), 'A');
  fs.writeFileSync(join(src, 'b.go'), 'B');
  fs.writeFileSync(join(src, 'c.go'), 'C');
  fs.writeFileSync(join(src, 'dir/x'), 'X');
  fs.writeFileSync(join(src, 'dir/sub/y'), 'Y');
  fs.chownSync(join(src, 'a.txt'), 1234, 1234);
  fs.symlinkSync('a.txt', join(src, 'link'));
  fs.mkdirSync(join(dest, 'etc'));
  fs.writeFileSync(join(dest, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/home/app:/bin/sh\n');
  fs.writeFileSync(join(dest, 'etc/group'), 'root:x:0:\nstaff:x:50:app\napp:x:1001:\n');
});

describe('COPY semantics', () => {
  test('a file to a path renames it; to dir/ keeps its name; local files become root-owned', () => {
    applyFileActions(dest, [copy({ srcPaths: ['a.txt'], dest: '/b.txt' }), copy({ srcPaths: ['a.txt'], dest: '/into/' })], [tree(src), tree(src)]);
    expect(fs.readFileSync(join(dest, 'b.txt'), 'utf8')).toBe('A');
    expect(fs.readFileSync(join(dest, 'into/a.txt'), 'utf8')).toBe('A');
    expect(fs.statSync(join(dest, 'b.txt')).uid).toBe(0);
  });

  test('a directory source copies its contents, not the directory', () => {
    applyFileActions(dest, [copy({ srcPaths: ['dir'], dest: '/app' })], [tree(src)]);
    expect(list(join(dest, 'app'))).toEqual(['sub/', 'sub/y', 'x']);
  });

  test('wildcards never cross "/" and copy into a directory', () => {
    applyFileActions(dest, [copy({ srcPaths: ['*.go'], dest: '/src' })], [tree(src)]);
    expect(list(join(dest, 'src'))).toEqual(['b.go', 'c.go']);
    expect(matchPath('*.go', 'dir/b.go')).toBe(false);
    expect(matchPath('dir/[a-x]', 'dir/x')).toBe(true);
  });

  test('--chown by name resolves against the destination passwd/group; --chmod applies', () => {
    applyFileActions(dest, [copy({ srcPaths: ['a.txt'], dest: '/o/', chown: { user: 'app', group: 'staff' }, chmod: 0o640 })], [tree(src)]);
    const st = fs.statSync(join(dest, 'o/a.txt'));
    expect([st.uid, st.gid, st.mode & 0o7777]).toEqual([1000, 50, 0o640]);
    expect(() => applyFileActions(dest, [copy({ srcPaths: ['a.txt'], dest: '/o/', chown: { user: 'nobody2' } })], [tree(src)])).toThrow('unable to find user nobody2');
  });

  test('image sources keep their owners; symlinks stay symlinks inside directories', () => {
    applyFileActions(dest, [copy({ srcPaths: ['/'], dest: '/img/' })], [tree(src, { local: false })]);
    expect(fs.statSync(join(dest, 'img/a.txt')).uid).toBe(1234);
    expect(fs.readlinkSync(join(dest, 'img/link'))).toBe('a.txt');
  });

  test('a top-level symlink source is followed', () => {
    applyFileActions(dest, [copy({ srcPaths: ['link'], dest: '/l' })], [tree(src)]);
    expect(fs.lstatSync(join(dest, 'l')).isFile()).toBe(true);
  });

  test('.dockerignore-style filters and --exclude hide paths', () => {
    const filter = { excluded: (rel: string) => rel === 'c.go' || rel.startsWith('dir/sub') };
    applyFileActions(dest, [copy({ srcPaths: ['.'], dest: '/f/', exclude: ['*.txt'] })], [tree(src, { filter })]);
    expect(list(join(dest, 'f'))).toEqual(['b.go', 'dir/', 'dir/x', 'link -> a.txt']);
  });

  test('a missing source or an empty wildcard is an error naming it', () => {
    expect(() => applyFileActions(dest, [copy({ srcPaths: ['nope.txt'], dest: '/' })], [tree(src)])).toThrow('"/nope.txt" not found');
    expect(() => applyFileActions(dest, [copy({ srcPaths: ['*.rs'], dest: '/x/' })], [tree(src)])).toThrow('no source files were specified by "*.rs"');
  });

  test('destination symlinks cannot lead outside the root', () => {
    const outside = fs.mkdtempSync(join(tmpdir(), 'eb-outside-'));
    fs.symlinkSync(outside, join(dest, 'escape'));
    applyFileActions(dest, [copy({ srcPaths: ['a.txt'], dest: '/escape/' })], [tree(src)]);
    expect(fs.readdirSync(outside)).toEqual([]);
    expect(fs.readFileSync(join(dest, outside, 'a.txt'), 'utf8')).toBe('A');
  });

  test('mkdir, mkfile and rm', () => {
    applyFileActions(dest, [
      { action: 'mkdir', path: '/w/x', mode: 0o755, makeParents: true, chown: { user: '1000' } },
      { action: 'mkfile', path: '/w/x/f', mode: 0o600, data: 'heredoc\n' },
      { action: 'rm', path: '/etc/group', allowNotFound: false, allowWildcard: false },
    ], []);
    expect(fs.statSync(join(dest, 'w/x')).uid).toBe(1000);
    expect(fs.readFileSync(join(dest, 'w/x/f'), 'utf8')).toBe('heredoc\n');
    expect(fs.existsSync(join(dest, 'etc/group'))).toBe(false);
  });

  test('ADD extracts a local tar archive', () => {
    Bun.spawnSync(['tar', '-czf', join(src, 'arch.tgz'), '-C', join(src, 'dir'), '.']);
    expect(archiveKind(join(src, 'arch.tgz'))).toBe('z');
    expect(archiveKind(join(src, 'a.txt'))).toBeUndefined();
    applyFileActions(dest, [copy({ srcPaths: ['arch.tgz'], dest: '/un/', attemptUnpack: true })], [tree(src)]);
    expect(fs.readFileSync(join(dest, 'un/sub/y'), 'utf8')).toBe('Y');
  });
});

describe('content checksums for cache keys', () => {
  test('depend only on the paths read', () => {
    const t = tree(src);
    const before = checksumPaths(t, ['a.txt']);
    const dirBefore = checksumPaths(t, ['dir']);
    fs.writeFileSync(join(src, 'b.go'), 'changed');
    expect(checksumPaths(t, ['a.txt'])).toBe(before);
    fs.writeFileSync(join(src, 'a.txt'), 'changed');
    expect(checksumPaths(t, ['a.txt'])).not.toBe(before);
    fs.chmodSync(join(src, 'dir/x'), 0o700);
    expect(checksumPaths(t, ['dir'])).not.toBe(dirBefore);
  });

  test('ignored files do not count', () => {
    const all = checksumPaths(tree(src), ['.']);
    const filtered = tree(src, { filter: { excluded: (rel) => rel === 'c.go' } });
    const f1 = checksumPaths(filtered, ['.']);
    fs.writeFileSync(join(src, 'c.go'), 'other');
    expect(checksumPaths(filtered, ['.'])).toBe(f1);
    expect(checksumPaths(tree(src), ['.'])).not.toBe(all);
  });
});
