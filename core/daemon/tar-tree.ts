// Directory trees over the wire as tar (contexts up, client-side outputs down): pack selected
// entries of a directory; extract into a directory without ever leaving it (names are cleaned,
// symlinks resolved inside the root). Contexts carry regular files, directories and symlinks;
// outputs (a built root filesystem) also device nodes and fifos, with owners.
import * as fs from 'node:fs';
import { mknod, S_IFBLK, S_IFCHR, S_IFIFO, devMajor, devMinor } from '../layer/libc.ts';
import { dirname, join } from 'node:path';
import { encodeHeader, END_OF_ARCHIVE, padding } from '../layer/tar-writer.ts';
import { readTar, type TarSource } from '../layer/tar-reader.ts';
import type { TarEntry } from '../layer/tar-header.ts';
import { cleanName, resolveInRoot } from '../layer/securejoin.ts';

/** Every entry under `root` (relative paths, parents before children). */
export function walkTree(root: string): string[] {
  const out: string[] = [];
  const visit = (rel: string) => {
    for (const name of fs.readdirSync(join(root, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      out.push(child);
      if (fs.lstatSync(join(root, child)).isDirectory()) visit(child);
    }
  };
  visit('');
  return out;
}

function entryOf(root: string, rel: string, special: boolean): TarEntry {
  const st = fs.lstatSync(join(root, rel));
  const type = st.isDirectory()
    ? 'dir'
    : st.isSymbolicLink()
      ? 'symlink'
      : st.isFile()
        ? 'file'
        : special && st.isCharacterDevice()
          ? 'char'
          : special && st.isBlockDevice()
            ? 'block'
            : special && st.isFIFO()
              ? 'fifo'
              : undefined;
  if (!type) throw new Error(`${join(root, rel)}: only files, directories and symlinks can be sent`);
  return {
    name: rel,
    type,
    mode: st.mode & 0o7777,
    uid: special ? st.uid : 0,
    gid: special ? st.gid : 0,
    size: type === 'file' ? st.size : 0,
    mtime: Math.floor(st.mtimeMs / 1000),
    linkname: type === 'symlink' ? fs.readlinkSync(join(root, rel)) : '',
    devmajor: type === 'char' || type === 'block' ? devMajor(st.rdev) : 0,
    devminor: type === 'char' || type === 'block' ? devMinor(st.rdev) : 0,
    xattrs: {},
  };
}

/** A tar stream of `paths` (relative to root; default: the whole tree). `special`: a built
 *  filesystem (devices, fifos, owners kept). */
export function packTree(root: string, paths: string[] = walkTree(root), special = false): ReadableStream<Uint8Array> {
  async function* gen(): AsyncGenerator<Uint8Array> {
    for (const rel of paths) {
      const e = entryOf(root, rel, special);
      yield encodeHeader(e);
      if (e.type !== 'file') continue;
      let n = 0;
      for await (const chunk of Bun.file(join(root, rel)).stream() as unknown as AsyncIterable<Uint8Array>) {
        n += chunk.length;
        if (n > e.size) throw new Error(`${join(root, rel)}: file grew while being sent`);
        yield chunk;
      }
      if (n !== e.size) throw new Error(`${join(root, rel)}: file shrank while being sent`);
      yield new Uint8Array(padding(e.size));
    }
    yield END_OF_ARCHIVE;
  }
  const it = gen();
  return new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      const r = await it.next();
      if (r.done) ctrl.close();
      else ctrl.enqueue(r.value);
    },
    async cancel() {
      await it.return(undefined);
    },
  });
}

export interface ExtractOptions {
  /** Called for each regular file written, with its relative name and sha256 hex. */
  onFile?: (rel: string, sha256: string) => void;
  /** Byte limit of the whole archive's file data. */
  maxBytes?: number;
  /** A built filesystem: device nodes and fifos allowed, owners applied (when running as root). */
  special?: boolean;
}

/** Extracts a tar of files, directories and symlinks into `root` (which must exist). */
export async function extractTree(root: string, source: TarSource, opts: ExtractOptions = {}): Promise<void> {
  let total = 0;
  const dirTimes: [string, number][] = [];
  await readTar(source, async (e, body) => {
    const rel = cleanName(e.name);
    if (!rel) return; // the root itself
    const where = `tar entry ${JSON.stringify(e.name)}`;
    const target = resolveInRoot(root, rel, false);
    fs.mkdirSync(dirname(target), { recursive: true });
    if (e.type === 'dir') {
      if (fs.existsSync(target) && !fs.lstatSync(target).isDirectory()) fs.rmSync(target, { recursive: true, force: true });
      fs.mkdirSync(target, { recursive: true });
      if (opts.special && process.getuid?.() === 0) fs.lchownSync(target, e.uid, e.gid);
      fs.chmodSync(target, e.mode);
      dirTimes.push([target, e.mtime]);
      return;
    }
    fs.rmSync(target, { recursive: true, force: true });
    const owners = opts.special && process.getuid?.() === 0;
    if (e.type === 'symlink') {
      fs.symlinkSync(e.linkname, target);
      if (owners) fs.lchownSync(target, e.uid, e.gid);
      return;
    }
    if (opts.special && (e.type === 'char' || e.type === 'block' || e.type === 'fifo')) {
      const kind = e.type === 'char' ? S_IFCHR : e.type === 'block' ? S_IFBLK : S_IFIFO;
      mknod(target, kind | e.mode, e.devmajor, e.devminor);
      if (owners) fs.lchownSync(target, e.uid, e.gid);
      return;
    }
    if (e.type !== 'file') throw new Error(`${where}: type ${e.type} is not allowed here`);
    total += e.size;
    if (opts.maxBytes !== undefined && total > opts.maxBytes) throw new Error(`${where}: archive is larger than ${opts.maxBytes} bytes`);
    const fd = fs.openSync(target, 'wx', 0o600);
    const h = new Bun.CryptoHasher('sha256');
    try {
      for await (const chunk of body) {
        h.update(chunk);
        for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off);
      }
    } finally {
      fs.closeSync(fd);
    }
    if (owners) fs.lchownSync(target, e.uid, e.gid);
    fs.chmodSync(target, e.mode);
    fs.utimesSync(target, e.mtime, e.mtime);
    opts.onFile?.(rel, h.digest('hex'));
  });
  for (const [d, t] of dirTimes.reverse()) fs.utimesSync(d, t, t);
}
