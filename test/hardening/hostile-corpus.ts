// The hostile layer corpus: tars that try to escape the rootfs, lie about sizes or abuse tar
// features. Each case says what containerd/BuildKit do with it: reject (the error must name the
// entry) or contain (applied, everything inside the rootfs; `check` looks at the merged tree).
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { encodeHeader, END_OF_ARCHIVE } from '../../core/layer/tar-writer.ts';
import { BLOCK, padding, type TarEntry } from '../../core/layer/tar-header.ts';

export type RawEntry = Partial<TarEntry> & { name: string; data?: string | Uint8Array; /** size written in the header, when it should lie */ declared?: number };

const enc = new TextEncoder();

/** A tar whose header sizes can lie (`declared`); data bytes follow as given, padded. */
export function rawTar(entries: RawEntry[], opts: { end?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of entries) {
    const data = typeof s.data === 'string' ? enc.encode(s.data) : (s.data ?? new Uint8Array(0));
    const type = s.type ?? 'file';
    const { data: _d, declared, ...rest } = s;
    const e: TarEntry = { type, mode: type === 'dir' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, linkname: '', devmajor: 0, devminor: 0, xattrs: {}, ...rest, size: declared ?? (type === 'file' ? data.length : 0) };
    parts.push(encodeHeader(e));
    if (data.length) parts.push(data, new Uint8Array(padding(data.length)));
  }
  if (opts.end !== false) parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** One ustar header block with fields poked in by hand (for what the writer refuses to produce). */
export function pokedHeader(fields: { name?: Uint8Array; size?: Uint8Array; type?: string; pax?: Record<string, Uint8Array> }): Uint8Array {
  const block = (name: Uint8Array, size: Uint8Array, type: string) => {
    const b = new Uint8Array(BLOCK);
    b.set(name.subarray(0, 100), 0);
    b.set(enc.encode('0000644\0'), 100);
    b.set(enc.encode('0000000\0'), 108);
    b.set(enc.encode('0000000\0'), 116);
    b.set(size.subarray(0, 12), 124);
    b.set(enc.encode('00000000000\0'), 136);
    b[156] = type.charCodeAt(0);
    b.set(enc.encode('ustar\x0000'), 257);
    b.fill(0x20, 148, 156);
    let sum = 0;
    for (const x of b) sum += x;
    b.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    return b;
  };
  const parts: Uint8Array[] = [];
  if (fields.pax) {
    const recs = Object.entries(fields.pax).map(([k, v]) => {
      const rest = enc.encode(` ${k}=`).length + v.length + 1;
      let len = rest + 1;
      while (String(len).length + rest !== len) len = String(len).length + rest;
      return Buffer.concat([enc.encode(`${len} ${k}=`), v, enc.encode('\n')]);
    });
    const data = Buffer.concat(recs);
    parts.push(block(enc.encode('PaxHeaders/x'), enc.encode(data.length.toString(8).padStart(11, '0') + '\0'), 'x'), data, new Uint8Array(padding(data.length)));
  }
  parts.push(block(fields.name ?? enc.encode('poked'), fields.size ?? enc.encode('00000000000\0'), fields.type ?? '0'));
  return Buffer.concat(parts);
}

export interface HostileCase {
  name: string;
  /** Layers bottom first (uncompressed tars). */
  layers: Uint8Array[];
  /** Rejected: the last layer's apply fails with a message matching this. */
  reject?: RegExp;
  /** Contained: checks on the merged rootfs (throws when wrong). */
  check?: (rootfs: string, mode: 'overlay' | 'native') => void;
  /** Only meaningful for one snapshotter mode. */
  only?: 'overlay' | 'native';
}

function expectFile(p: string, content: string): void {
  const got = readFileSync(p, 'utf8');
  if (got !== content) throw new Error(`${p}: content ${JSON.stringify(got)}, expected ${JSON.stringify(content)}`);
}

function expectKind(p: string, kind: 'dir' | 'file' | 'symlink' | 'char' | 'block' | 'fifo'): ReturnType<typeof lstatSync> {
  const st = lstatSync(p);
  const got = st.isDirectory() ? 'dir' : st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
  if (got !== kind) throw new Error(`${p}: is a ${got}, expected a ${kind}`);
  return st;
}

/**
 * The corpus. `outside` is a host directory next to the snapshotter root (holding `secret`);
 * `marker` a unique name that must never appear on the host outside the rootfs.
 */
export function hostileCases(outside: string, marker: string): HostileCase[] {
  const up = '../'.repeat(12);
  const longComp = 'n'.repeat(200);
  const overPathMax = Array.from({ length: 24 }, () => longComp).join('/'); // ~4.8 KB > PATH_MAX
  return [
    { name: 'dotdot name', layers: [rawTar([{ name: `${up}${marker}-dotdot`, data: 'x' }])], check: (r) => expectFile(join(r, `${marker}-dotdot`), 'x') },
    { name: 'dotdot in the middle', layers: [rawTar([{ name: `a/../../../${marker}-mid`, data: 'x' }])], check: (r) => expectFile(join(r, `${marker}-mid`), 'x') },
    { name: 'absolute name', layers: [rawTar([{ name: `${outside}/${marker}-abs`, data: 'x' }])], check: (r) => expectFile(join(r, outside, `${marker}-abs`), 'x') },
    {
      name: 'absolute symlink then write through it (same layer)',
      layers: [rawTar([{ name: 'lnk', type: 'symlink', linkname: outside }, { name: 'lnk/pwned', data: 'x' }])],
      check: (r) => {
        expectKind(join(r, 'lnk'), 'symlink');
        expectFile(join(r, outside, 'pwned'), 'x');
      },
    },
    {
      name: 'relative ../ symlink then write through it (same layer)',
      layers: [rawTar([{ name: 'd', type: 'dir' }, { name: 'd/lnk', type: 'symlink', linkname: `${up}${outside.slice(1)}` }, { name: 'd/lnk/pwned', data: 'x' }])],
      check: (r) => expectFile(join(r, outside, 'pwned'), 'x'),
    },
    {
      name: 'symlink in an earlier layer, write through it in a later one',
      layers: [rawTar([{ name: 'lnk', type: 'symlink', linkname: outside }]), rawTar([{ name: 'lnk/pwned', data: 'x' }])],
      // overlay: the new dir hides the lower symlink (as containerd's overlay applier); native: followed inside the root.
      check: (r) => {
        const st = lstatSync(join(r, 'lnk'));
        expectFile(st.isSymbolicLink() ? join(r, outside, 'pwned') : join(r, 'lnk/pwned'), 'x');
      },
    },
    {
      name: 'symlink to a file outside, then a file of the same name overwrites it',
      layers: [rawTar([{ name: 'f', type: 'symlink', linkname: `${outside}/secret` }, { name: 'f', data: 'mine' }])],
      check: (r) => expectFile(join(r, 'f'), 'mine'),
    },
    {
      name: 'symlink loop then write through it',
      layers: [rawTar([{ name: 'a', type: 'symlink', linkname: 'b' }, { name: 'b', type: 'symlink', linkname: 'a' }, { name: 'a/x', data: 'x' }])],
      reject: /tar entry "a\/x": too many levels of symbolic links/,
    },
    { name: 'hardlink to a host file by absolute path', layers: [rawTar([{ name: 'h', type: 'link', linkname: `${outside}/secret` }])], reject: /tar entry "h": hardlink target ".*secret" does not exist/ },
    { name: 'hardlink with ../ out of the root', layers: [rawTar([{ name: 'h', type: 'link', linkname: `${up}${outside.slice(1)}/secret` }])], reject: /tar entry "h": hardlink target .* does not exist/ },
    {
      name: 'hardlink through a symlink pointing outside',
      layers: [rawTar([{ name: 's', type: 'symlink', linkname: outside }, { name: 'h', type: 'link', linkname: 's/secret' }])],
      reject: /tar entry "h": hardlink target "s\/secret" does not exist/,
    },
    {
      name: 'hardlink to a symlink pointing outside (links the symlink, not its target)',
      layers: [rawTar([{ name: 's', type: 'symlink', linkname: `${outside}/secret` }, { name: 'h', type: 'link', linkname: 's' }])],
      check: (r) => {
        if (readlinkSync(join(r, 'h')) !== `${outside}/secret`) throw new Error('h is not the symlink');
      },
    },
    { name: 'hardlink to a missing target', layers: [rawTar([{ name: 'h', type: 'link', linkname: 'nope' }])], reject: /tar entry "h": hardlink target "nope" does not exist/ },
    { name: 'hardlink to a directory', layers: [rawTar([{ name: 'd', type: 'dir' }, { name: 'h', type: 'link', linkname: 'd' }])], reject: /tar entry "h": hardlink target "d" is a directory/ },
    {
      name: 'device nodes and a fifo',
      layers: [rawTar([{ name: 'null', type: 'char', devmajor: 1, devminor: 3, mode: 0o666 }, { name: 'loop', type: 'block', devmajor: 7, devminor: 0, mode: 0o660 }, { name: 'pipe', type: 'fifo', mode: 0o644 }])],
      check: (r) => {
        expectKind(join(r, 'null'), 'char');
        expectKind(join(r, 'loop'), 'block');
        expectKind(join(r, 'pipe'), 'fifo');
      },
    },
    {
      name: 'a file written over a device node',
      layers: [rawTar([{ name: 'null', type: 'char', devmajor: 1, devminor: 3 }]), rawTar([{ name: 'null', data: 'plain' }])],
      check: (r) => expectFile(join(r, 'null'), 'plain'),
    },
    {
      name: 'setuid/setgid/sticky bits kept (root-owned, as containerd does)',
      layers: [rawTar([{ name: 'suid', data: '#!', mode: 0o6755, uid: 0, gid: 0 }, { name: 'tmp', type: 'dir', mode: 0o1777 }])],
      check: (r) => {
        const m = lstatSync(join(r, 'suid')).mode & 0o7777;
        if (m !== 0o6755) throw new Error(`suid mode ${m.toString(8)}`);
        if ((lstatSync(join(r, 'tmp')).mode & 0o7777) !== 0o1777) throw new Error('sticky lost');
      },
    },
    { name: 'whiteout of the root ".wh."', layers: [rawTar([{ name: 'keep', data: 'k' }]), rawTar([{ name: '.wh.' }])], reject: /tar entry "\.wh\.": invalid whiteout name/ },
    { name: 'whiteout of ".." (".wh...")', layers: [rawTar([{ name: 'keep', data: 'k' }]), rawTar([{ name: 'd', type: 'dir' }, { name: 'd/.wh...' }])], reject: /tar entry "d\/\.wh\.\.\.": invalid whiteout name/ },
    { name: 'whiteout at the root named "/.wh.."', layers: [rawTar([{ name: 'keep', data: 'k' }]), rawTar([{ name: '/.wh..' }])], reject: /invalid whiteout name/ },
    {
      name: 'opaque whiteout of the root',
      layers: [rawTar([{ name: 'old', data: 'o' }]), rawTar([{ name: '.wh..wh..opq' }, { name: 'new', data: 'n' }])],
      // overlayfs ignores the opaque xattr on a layer's root (so does containerd's overlay
      // snapshotter); a full copy (native) removes what the lower layers had.
      check: (r, mode) => {
        expectFile(join(r, 'new'), 'n');
        if (mode === 'native' && lstatSync(join(r, 'old'), { throwIfNoEntry: false })) throw new Error('old survived an opaque root');
      },
    },
    {
      name: 'duplicate entries: last one wins (file, dir, symlink, file)',
      layers: [rawTar([{ name: 'x', data: 'one' }, { name: 'x', data: 'two' }, { name: 'y', type: 'dir' }, { name: 'y/in', data: 'i' }, { name: 'y', data: 'file now' }, { name: 'z', type: 'symlink', linkname: outside }, { name: 'z', data: 'plain' }])],
      check: (r) => {
        expectFile(join(r, 'x'), 'two');
        expectFile(join(r, 'y'), 'file now');
        expectFile(join(r, 'z'), 'plain');
      },
    },
    {
      name: 'NUL inside a ustar name (truncated there, as every tar reader does)',
      layers: [Buffer.concat([pokedHeader({ name: enc.encode(`nul\0/${up}${marker}-nul`) }), END_OF_ARCHIVE])],
      check: (r) => {
        expectKind(join(r, 'nul'), 'file');
      },
    },
    { name: 'NUL inside a PAX path', layers: [Buffer.concat([pokedHeader({ pax: { path: enc.encode(`a\0${up}${marker}-paxnul`) } }), END_OF_ARCHIVE])], reject: /tar entry .*: (PAX path contains a NUL byte|.*null bytes)/ },
    { name: 'NUL inside a PAX linkpath', layers: [Buffer.concat([pokedHeader({ type: '2', pax: { linkpath: enc.encode(`/etc\0x`) } }), END_OF_ARCHIVE])], reject: /tar entry #0 "poked": (PAX linkpath contains a NUL byte|.*null bytes)/ },
    { name: 'name over PATH_MAX', layers: [rawTar([{ name: overPathMax, data: 'x' }])], reject: /ENAMETOOLONG|name too long/ },
    { name: 'component over NAME_MAX', layers: [rawTar([{ name: 'm'.repeat(300), data: 'x' }])], reject: /ENAMETOOLONG|name too long/ },
    { name: 'size larger than the data (truncated archive)', layers: [rawTar([{ name: 'big', data: 'short', declared: 10_000 }], { end: false })], reject: /tar entry "big": unexpected end of stream/ },
    { name: 'size smaller than the data (next header is garbage)', layers: [rawTar([{ name: 'small', data: 'x'.repeat(2000), declared: 10 }])], reject: /header checksum mismatch|unsupported type|bad octal/ },
    { name: 'negative PAX size', layers: [Buffer.concat([pokedHeader({ pax: { size: enc.encode('-512') } }), END_OF_ARCHIVE])], reject: /tar entry "poked": bad PAX size="-512"/ },
    { name: 'fractional PAX size', layers: [Buffer.concat([pokedHeader({ pax: { size: enc.encode('1.5') } }), END_OF_ARCHIVE])], reject: /tar entry "poked": bad PAX size="1.5"/ },
    { name: 'huge base-256 size', layers: [Buffer.concat([pokedHeader({ size: Uint8Array.from([0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) }), END_OF_ARCHIVE])], reject: /tar entry #0 "poked": (size .* out of range|unexpected end of stream)/ },
    { name: 'fractional PAX uid', layers: [Buffer.concat([pokedHeader({ pax: { uid: enc.encode('0.5') } }), END_OF_ARCHIVE])], reject: /tar entry "poked": bad PAX uid="0.5"/ },
  ];
}
