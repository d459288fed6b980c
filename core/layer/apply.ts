// Applies an uncompressed layer tar onto a directory, as containerd's archive.Apply does. Every
// name is resolved inside the root (see securejoin.ts). OCI whiteouts either become overlayfs
// whiteouts ("overlay": the layer gets a dir of its own, stacked later as a lowerdir) or are
// carried out on a full copy of the lower layers ("native").
import { closeSync, existsSync, fchmodSync, fchownSync, futimesSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, readdirSync, rmSync, statfsSync, symlinkSync, chmodSync, copyFileSync, constants as fsc, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { S_IFBLK, S_IFCHR, S_IFIFO, SysError, lsetxattr, mknod } from './libc.ts';
import { cleanName, resolveInRoot } from './securejoin.ts';
import { OCI_OPAQUE, OCI_WHITEOUT_PREFIX, type TarEntry } from './tar-header.ts';
import { readTar, type TarReadResult, type TarSource } from './tar-reader.ts';

export type ApplyMode = 'overlay' | 'native';

export interface ApplyOptions {
  mode: ApplyMode;
  /** Overlay mode: the lower layers' dirs, newest first, where hardlink targets from earlier
   *  layers are looked up (and copied up, as overlayfs would). */
  parents?: string[];
  /** Free space (bytes) the unpack leaves on the root's filesystem; default 5% of it, at most 1 GiB. */
  reserveBytes?: number;
}

export type ApplyResult = TarReadResult;

export const OVERLAY_OPAQUE_XATTR = 'trusted.overlay.opaque';

function lstatOrUndefined(p: string): Stats | undefined {
  try {
    return lstatSync(p);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw e;
  }
}

/**
 * mkdir -p of an already resolved host path. A dir the layer does not list itself takes its
 * mode, owner and times from the same dir in the lower layers (as containerd's mkparent does),
 * so that an overlay upper does not hide e.g. /tmp's 1777 behind a default 0755.
 */
function ensureDir(host: string, root: string, parents: string[], dirTimes: Map<string, number>): void {
  const st = lstatOrUndefined(host);
  if (st?.isDirectory()) return;
  if (st) throw new Error(`${host.slice(root.length) || '/'} is not a directory`);
  const missing: string[] = [];
  for (let p = host; p.length > root.length && !lstatOrUndefined(p); p = dirname(p)) missing.unshift(p);
  for (const p of missing) {
    mkdirSync(p, { mode: 0o755 });
    const rel = p.slice(root.length + 1);
    for (const parent of parents) {
      const lower = lstatOrUndefined(resolveInRoot(parent, rel, true));
      if (!lower) continue;
      if (lower.isDirectory()) {
        lchownSync(p, lower.uid, lower.gid);
        chmodSync(p, lower.mode & 0o7777);
        dirTimes.set(p, lower.mtimeMs / 1000);
      }
      break;
    }
  }
}

const CHECK_EVERY_ENTRIES = 4096;

/**
 * Stops an unpack before it fills the disk. A layer's uncompressed size is declared nowhere (a
 * small gzip can inflate to terabytes; containerd just writes until ENOSPC), so the free space and
 * inodes of the target filesystem are checked as the layer is written: again after at most half
 * the space left above the reserve, so a check always comes before the disk is full.
 */
class SpaceGuard {
  private bytes = 0;
  private entries = 0;
  private nextCheck = 0;
  private readonly reserve: number;
  private readonly reserveInodes: number;

  constructor(
    private readonly root: string,
    reserveBytes: number | undefined,
  ) {
    const fs = statfsSync(root);
    this.reserve = reserveBytes ?? Math.min(1024 ** 3, fs.blocks * fs.bsize * 0.05);
    this.reserveInodes = fs.files > 0 ? Math.min(100_000, fs.files * 0.05) : 0;
    this.check();
  }

  wrote(n: number, entry = false): void {
    this.bytes += n;
    if (entry) this.entries++;
    if (this.bytes >= this.nextCheck || (entry && this.entries % CHECK_EVERY_ENTRIES === 0)) this.check();
  }

  private check(): void {
    const fs = statfsSync(this.root);
    const free = fs.bavail * fs.bsize;
    const mib = (b: number) => `${Math.floor(b / 1024 / 1024)} MiB`;
    if (free < this.reserve) throw new Error(`stopped unpacking after ${mib(this.bytes)}: only ${mib(free)} left free on the filesystem of ${this.root} (keeps ${mib(this.reserve)} free)`);
    if (fs.files > 0 && fs.ffree < this.reserveInodes) throw new Error(`stopped unpacking after ${this.entries} entries: only ${fs.ffree} inodes left on the filesystem of ${this.root}`);
    this.nextCheck = this.bytes + Math.max(256 * 1024, Math.min(32 * 1024 * 1024, (free - this.reserve) / 2));
  }
}

/** Writes a regular file and sets its metadata through the open fd (no path lookups). */
async function writeFile(host: string, e: TarEntry, body: AsyncIterable<Uint8Array>, guard: SpaceGuard): Promise<void> {
  const fd = openSync(host, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    for await (const chunk of body) {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      guard.wrote(chunk.length);
    }
    fchownSync(fd, e.uid, e.gid);
    setXattrs(host, e);
    // After chown, which clears setuid/setgid.
    fchmodSync(fd, e.mode);
    futimesSync(fd, e.mtime, e.mtime);
  } finally {
    closeSync(fd);
  }
}

function setXattrs(host: string, e: TarEntry): void {
  for (const [k, val] of Object.entries(e.xattrs)) {
    try {
      lsetxattr(host, k, val);
    } catch (err) {
      // Filesystems without xattr support (tmpfs for user.*) lose them, as with containerd.
      if ((err as SysError).code !== 'ENOTSUP') throw err;
    }
  }
}

function setMetadata(host: string, e: TarEntry): void {
  lchownSync(host, e.uid, e.gid);
  setXattrs(host, e);
  // After chown, which clears setuid/setgid.
  if (e.type !== 'symlink') chmodSync(host, e.mode);
}

/** Applies `source` onto `root` (which must exist); returns the tar's diffID and byte size. */
export async function applyLayer(root: string, source: TarSource, opts: ApplyOptions): Promise<ApplyResult> {
  // Latest value wins; applied in reverse order of first sight (children before parents).
  const dirTimes = new Map<string, number>();
  const written = new Set<string>(); // host paths this layer wrote (native opaque dirs keep them)
  const parents = opts.mode === 'overlay' ? (opts.parents ?? []) : [];
  const guard = new SpaceGuard(root, opts.reserveBytes);
  // Host paths of parent dirs already resolved and made to exist, by cleaned name: most entries
  // share their parent with the one before, and resolving costs an lstat per path component.
  // Only a removal can change how a name resolves (a dir replaced by a symlink), so any removal
  // empties it.
  const dirCache = new Map<string, string>();
  const remove = (p: string) => {
    dirCache.clear();
    rmSync(p, { recursive: true, force: true });
  };

  const removeNotWritten = (dir: string) => {
    for (const child of readdirSync(dir)) {
      const p = join(dir, child);
      if (!written.has(p)) remove(p);
      else if (lstatSync(p).isDirectory()) removeNotWritten(p);
    }
  };

  const copyUpFromParents = (rel: string, targetHost: string) => {
    for (const parent of opts.parents ?? []) {
      const src = resolveInRoot(parent, rel);
      const st = lstatOrUndefined(src);
      if (!st || st.isDirectory()) continue;
      ensureDir(dirname(targetHost), root, parents, dirTimes);
      if (st.isSymbolicLink()) throw new Error(`hardlink to a symlink in a lower layer is not supported`);
      copyFileSync(src, targetHost, fsc.COPYFILE_FICLONE);
      lchownSync(targetHost, st.uid, st.gid);
      chmodSync(targetHost, st.mode & 0o7777);
      lutimesSync(targetHost, st.atime, st.mtime);
      return true;
    }
    return false;
  };

  const result = await readTar(source, async (e, body) => {
    guard.wrote(512, true);
    const rel = cleanName(e.name);
    if (rel === '') {
      if (e.type === 'dir') {
        setMetadata(root, e);
        dirTimes.set(root, e.mtime);
      }
      return;
    }
    const base = basename(rel);
    const parentRel = dirname(rel);
    let parentHost = dirCache.get(parentRel);
    const whiteout = base.startsWith(OCI_WHITEOUT_PREFIX);
    if (parentHost === undefined) {
      parentHost = resolveInRoot(root, parentRel, true);
      // On a full copy, a whiteout under a dir that does not exist has nothing to delete.
      if (whiteout && opts.mode === 'native' && !lstatOrUndefined(parentHost)?.isDirectory()) return;
      ensureDir(parentHost, root, parents, dirTimes);
      dirCache.set(parentRel, parentHost);
    }

    if (whiteout) {
      if (base === OCI_OPAQUE) {
        if (opts.mode === 'overlay') lsetxattr(parentHost, OVERLAY_OPAQUE_XATTR, Buffer.from('y'));
        else removeNotWritten(parentHost);
        return;
      }
      // Other ".wh..wh." names are AUFS bookkeeping (e.g. hardlink dirs): not part of the tree.
      if (base.startsWith(`${OCI_WHITEOUT_PREFIX}${OCI_WHITEOUT_PREFIX}`)) return;
      const hidden = base.slice(OCI_WHITEOUT_PREFIX.length);
      // ".wh." and ".wh..." would name the dir itself or its parent (containerd refuses them too).
      if (hidden === '' || hidden === '.' || hidden === '..') throw new Error('invalid whiteout name (it would remove the directory itself or its parent)');
      const victim = join(parentHost, hidden);
      remove(victim);
      if (opts.mode === 'overlay') mknod(victim, S_IFCHR | 0o000, 0, 0);
      return;
    }

    const host = join(parentHost, base);
    const existing = lstatOrUndefined(host);
    if (existing && !(existing.isDirectory() && e.type === 'dir')) remove(host);

    switch (e.type) {
      case 'dir':
        if (!existing?.isDirectory()) mkdirSync(host, { mode: 0o700 });
        break;
      case 'file':
        await writeFile(host, e, body, guard);
        written.add(host);
        return;
      case 'symlink':
        symlinkSync(e.linkname, host);
        break;
      case 'link': {
        const targetRel = cleanName(e.linkname);
        const target = resolveInRoot(root, targetRel);
        let st = lstatOrUndefined(target);
        if (!st && copyUpFromParents(targetRel, target)) st = lstatOrUndefined(target);
        if (!st) throw new Error(`hardlink target ${JSON.stringify(e.linkname)} does not exist`);
        if (st.isDirectory()) throw new Error(`hardlink target ${JSON.stringify(e.linkname)} is a directory`);
        linkSync(target, host);
        written.add(host);
        return; // a hardlink shares its target's metadata
      }
      case 'char':
        mknod(host, S_IFCHR | (e.mode & 0o777), e.devmajor, e.devminor);
        break;
      case 'block':
        mknod(host, S_IFBLK | (e.mode & 0o777), e.devmajor, e.devminor);
        break;
      case 'fifo':
        mknod(host, S_IFIFO | (e.mode & 0o777));
        break;
    }
    setMetadata(host, e);
    if (e.type === 'dir') dirTimes.set(host, e.mtime);
    else lutimesSync(host, e.mtime, e.mtime);
    written.add(host);
  });

  // Directory times last, children before parents, since creating entries changes them.
  for (const [p, t] of [...dirTimes].reverse()) if (existsSync(p)) lutimesSync(p, t, t);
  return result;
}
