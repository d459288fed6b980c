import { afterAll, describe, expect, test } from 'bun:test';
import { chmodSync, chownSync, existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync, lutimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { applyLayer } from '../../../core/layer/apply.ts';
import { diffDirs, diffOverlayUpper } from '../../../core/layer/diff.ts';
import { lgetxattr, lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from '../../../core/layer/libc.ts';
import { chunked, listTar, makeTar, sha256, type ReadEntry } from './fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'eb-layer-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
let n = 0;
const fresh = (label: string) => {
  const d = join(work, `${label}-${n++}`);
  mkdirSync(d);
  return d;
};

const LONG = `deep/${'d'.repeat(90)}/${'e'.repeat(80)}/file-with-a-long-name-${'f'.repeat(60)}`;

/** A tree with every entry type a layer can hold. */
function makeTree(dir: string): void {
  mkdirSync(join(dir, 'bin'));
  writeFileSync(join(dir, 'bin/tool'), 'binary\n');
  chmodSync(join(dir, 'bin/tool'), 0o4755);
  linkSync(join(dir, 'bin/tool'), join(dir, 'bin/tool-alias'));
  mkdirSync(join(dir, 'tmp'));
  chmodSync(join(dir, 'tmp'), 0o1777);
  mkdirSync(join(dir, 'shared'));
  chmodSync(join(dir, 'shared'), 0o2775);
  writeFileSync(join(dir, 'owned'), 'x'.repeat(70000));
  chownSync(join(dir, 'owned'), 1234, 5678);
  writeFileSync(join(dir, 'tagged'), 'xattr here');
  lsetxattr(join(dir, 'tagged'), 'user.comment', Buffer.from('hello\0bin'));
  symlinkSync('bin/tool', join(dir, 'link'));
  symlinkSync(`/${'t'.repeat(120)}`, join(dir, 'longlink'));
  mkdirSync(join(dir, 'dev'));
  mknod(join(dir, 'dev/null'), S_IFCHR | 0o666, 1, 3);
  mknod(join(dir, 'dev/loop0'), S_IFBLK | 0o660, 7, 0);
  mknod(join(dir, 'dev/fifo'), S_IFIFO | 0o600);
  mkdirSync(join(dir, LONG, '..'), { recursive: true });
  writeFileSync(join(dir, LONG), 'long');
  // Fixed times everywhere, directories last.
  const all = (d: string, rel = ''): string[] =>
    readdirSync(join(d, rel)).flatMap((c) => {
      const r = rel ? `${rel}/${c}` : c;
      return lstatSync(join(d, r)).isDirectory() ? [...all(d, r), r] : [r];
    });
  for (const r of all(dir)) lutimesSync(join(dir, r), 1_650_000_000, 1_650_000_000);
}

const norm = (es: ReadEntry[]) =>
  es
    .map(({ name, linkname, ...e }) => ({ ...e, name: name.replace(/^\.\//, ''), linkname: e.type === 'link' ? linkname.replace(/^\.\//, '') : linkname }))
    .filter((e) => e.name !== '.' && e.name !== '')
    .sort((a, b) => (a.name < b.name ? -1 : 1));

async function gnuTar(dir: string): Promise<Uint8Array> {
  const p = Bun.spawn(['tar', '--xattrs', '--xattrs-include=*', '--format=pax', '--sort=name', '--numeric-owner', '-C', dir, '-cf', '-', '.'], { stdout: 'pipe' });
  const out = new Uint8Array(await new Response(p.stdout).arrayBuffer());
  expect(await p.exited).toBe(0);
  return out;
}

describe('layer apply and diff', () => {
  test('a GNU tar with every entry type applies, and the diff gives the same entries back', async () => {
    const src = fresh('src');
    makeTree(src);
    const tarBytes = await gnuTar(src);
    const dst = fresh('dst');
    const res = await applyLayer(dst, chunked(tarBytes), { mode: 'native' });
    expect(res).toEqual({ diffID: sha256(tarBytes), size: tarBytes.length });

    expect(lstatSync(join(dst, 'bin/tool')).mode & 0o7777).toBe(0o4755);
    expect(lstatSync(join(dst, 'tmp')).mode & 0o7777).toBe(0o1777);
    expect(lstatSync(join(dst, 'bin/tool')).ino).toBe(lstatSync(join(dst, 'bin/tool-alias')).ino);
    expect(lstatSync(join(dst, 'owned')).uid).toBe(1234);
    expect(lgetxattr(join(dst, 'tagged'), 'user.comment')?.toString()).toBe('hello\0bin');
    expect(lstatSync(join(dst, 'dev/null')).rdev).toBe(lstatSync('/dev/null').rdev);
    expect(lstatSync(join(dst, 'bin')).mtimeMs).toBe(1_650_000_000_000);
    expect(readFileSync(join(dst, LONG), 'utf8')).toBe('long');

    const want = norm(await listTar(tarBytes));
    const { stream, done } = diffDirs(undefined, dst);
    const got = norm(await listTar(stream));
    const strip = (es: ReturnType<typeof norm>) => es.map((e) => ({ ...e, xattrs: Object.fromEntries(Object.entries(e.xattrs).filter(([k]) => k.startsWith('user.'))) }));
    expect(strip(got)).toEqual(strip(want));
    expect((await done).diffID).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  test('diffs are deterministic and mtimes clamp to SOURCE_DATE_EPOCH', async () => {
    const src = fresh('det');
    makeTree(src);
    const a = diffOverlayUpper(src, { sourceDateEpoch: 1_000 });
    const bytesA = new Uint8Array(await new Response(a.stream).arrayBuffer());
    const b = diffDirs(undefined, src, { sourceDateEpoch: 1_000 });
    const bytesB = new Uint8Array(await new Response(b.stream).arrayBuffer());
    expect(sha256(bytesA)).toBe(sha256(bytesB));
    expect((await a.done).diffID).toBe(sha256(bytesA));
    expect(new Set((await listTar(bytesA)).map((e) => e.mtime))).toEqual(new Set([1_000]));
  });

  const layer1 = makeTar([
    { name: 'a', type: 'dir' },
    { name: 'a/x', data: 'x' },
    { name: 'a/y', data: 'y' },
    { name: 'b', type: 'dir' },
    { name: 'b/old', data: 'old' },
    { name: 'b/sub', type: 'dir' },
    { name: 'b/sub/deep', data: 'deep' },
    { name: 'c', data: 'c' },
  ]);
  const layer2 = makeTar([
    { name: '.wh.c' },
    { name: 'a', type: 'dir' },
    { name: 'a/.wh.x' },
    { name: 'b', type: 'dir' },
    { name: 'b/.wh..wh..opq' },
    { name: 'b/new', data: 'new' },
  ]);
  const layer2KeepsEarlier = makeTar([
    { name: 'b', type: 'dir' },
    { name: 'b/new', data: 'new' },
    { name: 'b/.wh..wh..opq' },
  ]);

  const tree = (d: string): string[] =>
    readdirSync(d)
      .sort()
      .flatMap((c) => (lstatSync(join(d, c)).isDirectory() ? [`${c}/`, ...tree(join(d, c)).map((x) => `${c}/${x}`)] : [c]));

  test('whiteouts and opaque dirs in native mode delete from the copy below', async () => {
    const d = fresh('native');
    await applyLayer(d, chunked(layer1), { mode: 'native' });
    await applyLayer(d, chunked(layer2), { mode: 'native' });
    expect(tree(d)).toEqual(['a/', 'a/y', 'b/', 'b/new']);
    const e = fresh('native-order');
    await applyLayer(e, chunked(layer1), { mode: 'native' });
    await applyLayer(e, chunked(layer2KeepsEarlier), { mode: 'native' });
    expect(tree(e)).toEqual(['a/', 'a/x', 'a/y', 'b/', 'b/new', 'c']);
    await applyLayer(e, chunked(makeTar([{ name: 'nowhere/deep/.wh.x' }, { name: 'nowhere2/.wh..wh..opq' }])), { mode: 'native' });
    expect(tree(e)).toEqual(['a/', 'a/x', 'a/y', 'b/', 'b/new', 'c']);
  });

  test('[slow] whiteouts and opaque dirs in overlay mode become overlayfs whiteouts and stack', async () => {
    const l1 = fresh('l1');
    const l2 = fresh('l2');
    await applyLayer(l1, chunked(layer1), { mode: 'overlay' });
    await applyLayer(l2, chunked(layer2), { mode: 'overlay', parents: [l1] });
    const x = lstatSync(join(l2, 'a/x'));
    expect(x.isCharacterDevice() && x.rdev === 0).toBe(true);
    expect(lstatSync(join(l2, 'c')).isCharacterDevice()).toBe(true);
    expect(lgetxattr(join(l2, 'b'), 'trusted.overlay.opaque')?.toString()).toBe('y');

    const m = fresh('merged');
    const mount = Bun.spawnSync(['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${l2}:${l1}`, m]);
    expect(mount.exitCode).toBe(0);
    try {
      expect(tree(m)).toEqual(['a/', 'a/y', 'b/', 'b/new']);
    } finally {
      Bun.spawnSync(['umount', m]);
    }

    const got = (await listTar(diffOverlayUpper(l2).stream)).map((e) => `${e.type}:${e.name}`);
    // A whiteout sorts where the name it deletes would.
    expect(got).toEqual(['dir:a', 'file:a/.wh.x', 'dir:b', 'file:b/.wh..wh..opq', 'file:b/new', 'file:.wh.c']);
  });

  test('comparing two trees gives whiteouts for deletions and only changed entries', async () => {
    const lower = fresh('cmp-lower');
    await applyLayer(lower, chunked(layer1), { mode: 'native' });
    const upper = fresh('cmp-upper');
    Bun.spawnSync(['cp', '-a', `${lower}/.`, upper]);
    rmSync(join(upper, 'a/x'));
    rmSync(join(upper, 'c'));
    writeFileSync(join(upper, 'b/sub/deep'), 'changed');
    writeFileSync(join(upper, 'b/sub/added'), 'added');
    utimesSync(join(upper, 'b'), 1_600_000_000, 1_600_000_000); // b itself unchanged: only emitted as a parent
    const got = (await listTar(diffDirs(lower, upper).stream)).map((e) => `${e.type}:${e.name}`);
    expect(got).toEqual(['dir:a', 'file:a/.wh.x', 'dir:b', 'dir:b/sub', 'file:b/sub/added', 'file:b/sub/deep', 'file:.wh.c']);
    const none = await listTar(diffDirs(lower, lower).stream);
    expect(none).toEqual([]);
  });

  test('in overlay mode, parent dirs a layer omits take their metadata from the layers below', async () => {
    const l1 = fresh('meta-l1');
    const l2 = fresh('meta-l2');
    await applyLayer(l1, chunked(makeTar([{ name: 'tmp', type: 'dir', mode: 0o1777, uid: 7, mtime: 1_500_000_000 }])), { mode: 'overlay' });
    await applyLayer(l2, chunked(makeTar([{ name: 'tmp/sub/x', data: 'x' }])), { mode: 'overlay', parents: [l1] });
    const st = lstatSync(join(l2, 'tmp'));
    expect([st.mode & 0o7777, st.uid, st.mtimeMs]).toEqual([0o1777, 7, 1_500_000_000_000]);
    expect(lstatSync(join(l2, 'tmp/sub')).mode & 0o7777).toBe(0o755);
  });

  test('GNU longname/longlink headers and PAX numbers read back', async () => {
    const src = fresh('gnu');
    const long = `${'a'.repeat(120)}/${'b'.repeat(120)}`;
    mkdirSync(join(src, 'a'.repeat(120)));
    writeFileSync(join(src, long), 'gnu');
    symlinkSync('t'.repeat(150), join(src, 'sym'));
    const p = Bun.spawn(['tar', '--format=gnu', '--sort=name', '-C', src, '-cf', '-', '.'], { stdout: 'pipe' });
    const gnu = new Uint8Array(await new Response(p.stdout).arrayBuffer());
    const names = (await listTar(gnu)).map((e) => `${e.name.replace(/^\.\//, '')}>${e.linkname}`);
    expect(names).toContain(`${long}>`);
    expect(names).toContain(`sym>${'t'.repeat(150)}`);
    // Values beyond ustar's octal fields go into PAX records and come back.
    const big = makeTar([{ name: 'big', data: 'x', uid: 3_000_000_000, gid: 70_000_000 }]);
    expect((await listTar(big)).map((e) => [e.uid, e.gid])).toEqual([[3_000_000_000, 70_000_000]]);
  });

  test('hostile names stay inside the root', async () => {
    const box = fresh('box');
    const root = join(box, 'root');
    const outside = join(box, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    const hostile = makeTar([
      { name: '../escaped-dotdot', data: 'no' },
      { name: `/${outside.slice(1)}/escaped-abs`, data: 'no' },
      { name: 'rel-link', type: 'symlink', linkname: '../../../../../../..' + outside },
      { name: 'rel-link/through-rel', data: 'no' },
      { name: 'abs-link', type: 'symlink', linkname: outside },
      { name: 'abs-link/through-abs', data: 'no' },
      { name: 'abs-link/../../../escaped-parent', data: 'no' },
      { name: 'dir/../../escaped-dir', data: 'no' },
    ]);
    await applyLayer(root, chunked(hostile), { mode: 'native' });
    expect(readdirSync(box).sort()).toEqual(['outside', 'root']);
    expect(readdirSync(outside)).toEqual([]);
    expect(existsSync(join(work, 'escaped-dotdot'))).toBe(false);
    // Everything landed inside, where a chroot would have put it.
    expect(existsSync(join(root, 'escaped-dotdot'))).toBe(true);
    expect(existsSync(join(root, outside, 'escaped-abs'))).toBe(true);
    expect(existsSync(join(root, outside, 'through-rel'))).toBe(true);
    expect(existsSync(join(root, outside, 'through-abs'))).toBe(true);
    expect(existsSync(join(root, 'escaped-dir'))).toBe(true);
    expect(lstatSync(join(root, 'abs-link')).isSymbolicLink()).toBe(true);

    const badLink = makeTar([{ name: 'hl', type: 'link', linkname: '../../../../etc/passwd' }]);
    await expect(applyLayer(fresh('hl'), chunked(badLink), { mode: 'native' })).rejects.toThrow('tar entry "hl": hardlink target "../../../../etc/passwd" does not exist');
  });

  test('a dir replaced by a symlink later in the same layer is resolved anew (no stale parent)', async () => {
    for (const mode of ['native', 'overlay'] as const) {
      const box = fresh(`swap-${mode}`);
      const root = join(box, 'root');
      const outside = join(box, 'outside');
      mkdirSync(root);
      mkdirSync(outside);
      const tar = makeTar([
        { name: 'd', type: 'dir' },
        { name: 'd/first', data: 'a' },
        // Replaces the dir "d" (already used as a parent) with a link out of the root.
        { name: 'd', type: 'symlink', linkname: outside },
        { name: 'd/second', data: 'b' },
        { name: 'e/f/g', data: 'c' },
        { name: 'e/.wh.f' },
        { name: 'e', type: 'symlink', linkname: outside },
        { name: 'e/f/h', data: 'd' },
      ]);
      await applyLayer(root, chunked(tar), { mode });
      expect(readdirSync(outside)).toEqual([]);
      expect(readFileSync(join(root, outside, 'second'), 'utf8')).toBe('b');
      expect(readFileSync(join(root, outside, 'f/h'), 'utf8')).toBe('d');
      expect(existsSync(join(root, 'd/first'))).toBe(false);
    }
  });

  test('a corrupt header names the entry', async () => {
    const bytes = makeTar([{ name: 'ok', data: 'fine' }, { name: 'broken', data: 'x' }]);
    bytes[1024 + 148] ^= 1; // checksum field of the second header
    await expect(applyLayer(fresh('corrupt'), chunked(bytes), { mode: 'native' })).rejects.toThrow('tar entry #1 "broken": header checksum mismatch');
  });
});
