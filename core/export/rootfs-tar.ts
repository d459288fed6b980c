// A tar of a whole root filesystem (the tar exporter's output): deterministic headers from
// core/layer, xattrs as PAX records, hard links as link entries.
import { createReadStream } from 'node:fs';
import { readlink } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { once } from 'node:events';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../layer/tar-writer.ts';
import type { TarEntry } from '../layer/tar-header.ts';
import { devMajor, devMinor, lgetxattr, llistxattr } from '../layer/libc.ts';
import { clampedMtime, walkTree, type TreeEntry } from './walk-tree.ts';

function xattrsOf(path: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name of llistxattr(path)) {
    const value = lgetxattr(path, name);
    if (value) out[name] = value;
  }
  return out;
}

async function headerOf(e: TreeEntry, epoch?: number): Promise<TarEntry> {
  const st = e.stat;
  const base: TarEntry = {
    name: e.rel,
    type: e.hardlinkTo ? 'link' : e.type,
    mode: st.mode & 0o7777,
    uid: st.uid,
    gid: st.gid,
    size: e.type === 'file' && !e.hardlinkTo ? st.size : 0,
    mtime: clampedMtime(st, epoch),
    linkname: e.hardlinkTo ?? (e.type === 'symlink' ? await readlink(e.abs) : ''),
    devmajor: e.type === 'char' || e.type === 'block' ? devMajor(st.rdev) : 0,
    devminor: e.type === 'char' || e.type === 'block' ? devMinor(st.rdev) : 0,
    xattrs: e.hardlinkTo ? {} : xattrsOf(e.abs),
  };
  return base;
}

async function write(out: Writable, chunk: Uint8Array): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain');
}

/** Writes the tar of `root` to `out` (does not end `out`). */
export async function writeRootfsTar(root: string, out: Writable, epoch?: number, signal?: AbortSignal): Promise<void> {
  for await (const e of walkTree(root)) {
    signal?.throwIfAborted();
    const h = await headerOf(e, epoch);
    await write(out, encodeHeader(h));
    if (h.type !== 'file' || h.size === 0) continue;
    let n = 0;
    for await (const chunk of createReadStream(e.abs)) {
      n += chunk.length;
      if (n > h.size) break;
      await write(out, chunk);
    }
    if (n !== h.size) throw new Error(`export tar: ${e.rel} changed size while being read (${h.size} → ${n} bytes)`);
    await write(out, new Uint8Array(padding(h.size)));
  }
  await write(out, END_OF_ARCHIVE);
}
