// Produces a layer tar (streamed, deterministic: sorted names, no user names, PAX only when
// needed) from an overlayfs upperdir, or by comparing a lower and an upper directory tree.
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { devMajor, devMinor, lgetxattr, llistxattr } from './libc.ts';
import { OVERLAY_OPAQUE_XATTR } from './apply.ts';
import { resolveInRoot } from './securejoin.ts';
import { OCI_OPAQUE, OCI_WHITEOUT_PREFIX, padding, type TarEntry, type TarEntryType } from './tar-header.ts';
import { END_OF_ARCHIVE, encodeHeader } from './tar-writer.ts';

export interface DiffOptions {
  /** Clamp every mtime to at most this (SOURCE_DATE_EPOCH), for reproducible layers. */
  sourceDateEpoch?: number;
}

export interface LayerDigest {
  diffID: string; // sha256 of the uncompressed tar
  size: number;
}

export interface LayerStream {
  stream: ReadableStream<Uint8Array>;
  /** Settles when the stream has been read to the end (or fails). */
  done: Promise<LayerDigest>;
}

/** One tar entry plus where its data comes from (regular files only). */
interface Item {
  entry: TarEntry;
  host?: string;
}

function lstatOrUndefined(p: string): BigIntStats | undefined {
  try {
    return lstatSync(p, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

const sortedNames = (dir: string) => readdirSync(dir).sort();

function typeOf(st: BigIntStats, host: string): TarEntryType {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isFIFO()) return 'fifo';
  throw new Error(`${host}: sockets cannot go into a layer`);
}

/** xattrs that belong in a layer: overlayfs' own bookkeeping stays out. */
function layerXattrs(host: string): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const k of llistxattr(host)) {
    // With these, an upper entry is not self-contained (data or children live elsewhere).
    if (k === 'trusted.overlay.redirect' || k === 'trusted.overlay.metacopy') {
      throw new Error(`${host}: has ${k}: mount overlays with redirect_dir=off,metacopy=off to take diffs`);
    }
    if (k.startsWith('trusted.overlay.')) continue;
    const val = lgetxattr(host, k);
    if (val) out[k] = val;
  }
  return out;
}

/** Tracks inodes already written so further names of the same file become tar hardlinks. */
class Entries {
  private readonly inodes = new Map<string, string>();
  constructor(private readonly opts: DiffOptions) {}

  mtime(st: BigIntStats): number {
    const t = Number(st.mtimeNs / 1_000_000_000n);
    return this.opts.sourceDateEpoch !== undefined ? Math.min(t, this.opts.sourceDateEpoch) : t;
  }

  of(host: string, rel: string, st: BigIntStats): Item {
    const type = typeOf(st, host);
    const entry: TarEntry = {
      name: rel,
      type,
      mode: Number(st.mode) & 0o7777,
      uid: Number(st.uid),
      gid: Number(st.gid),
      size: type === 'file' ? Number(st.size) : 0,
      mtime: this.mtime(st),
      linkname: type === 'symlink' ? readlinkSync(host) : '',
      devmajor: type === 'char' || type === 'block' ? devMajor(st.rdev) : 0,
      devminor: type === 'char' || type === 'block' ? devMinor(st.rdev) : 0,
      xattrs: layerXattrs(host),
    };
    if (type !== 'dir' && st.nlink > 1n) {
      const key = `${st.dev}:${st.ino}`;
      const first = this.inodes.get(key);
      if (first !== undefined) return { entry: { ...entry, type: 'link', linkname: first, size: 0, xattrs: {} } };
      this.inodes.set(key, rel);
    }
    return { entry, host: type === 'file' ? host : undefined };
  }

  whiteout(rel: string, st: BigIntStats): Item {
    return {
      entry: { name: rel, type: 'file', mode: 0, uid: 0, gid: 0, size: 0, mtime: this.mtime(st), linkname: '', devmajor: 0, devminor: 0, xattrs: {} },
    };
  }
}

const childRel = (rel: string, name: string) => (rel ? `${rel}/${name}` : name);
const whiteoutRel = (rel: string, name: string) => childRel(rel, `${OCI_WHITEOUT_PREFIX}${name}`);

export interface OverlayDiffOptions extends DiffOptions {
  /** The lowerdirs, nearest first: dirs that overlayfs only copied up (same metadata as below)
   *  are then left out unless something inside them changed. */
  lowers?: string[];
}

/** The same path in the nearest lower layer that has it (not following symlinks out of it). */
function lowerStat(lowers: string[], rel: string): { host: string; st: BigIntStats } | undefined {
  for (const lower of lowers) {
    const host = resolveInRoot(lower, rel);
    const st = lstatOrUndefined(host);
    if (st) return st.isCharacterDevice() && st.rdev === 0n ? undefined : { host, st };
  }
  return undefined;
}

/** Entries of an overlayfs upperdir: char 0:0 → `.wh.NAME`, opaque dir → `.wh..wh..opq`. */
async function* overlayItems(upper: string, opts: OverlayDiffOptions): AsyncGenerator<Item> {
  const entries = new Entries(opts);
  const lowers = opts.lowers ?? [];
  const pending: Item[] = [];
  function* flush(): Generator<Item> {
    yield* pending;
    pending.length = 0;
  }
  function* walk(dir: string, rel: string): Generator<Item> {
    for (const name of sortedNames(dir)) {
      const host = join(dir, name);
      const st = lstatSync(host, { bigint: true });
      const r = childRel(rel, name);
      if (st.isCharacterDevice() && st.rdev === 0n) {
        yield* flush();
        yield entries.whiteout(whiteoutRel(rel, name), st);
        continue;
      }
      const item = entries.of(host, r, st);
      if (!st.isDirectory()) {
        yield* flush();
        yield item;
        continue;
      }
      const opaque = lgetxattr(host, OVERLAY_OPAQUE_XATTR)?.toString() === 'y';
      const below = opaque ? undefined : lowerStat(lowers, r);
      if (below?.st.isDirectory() && !changed(below.host, below.st, host, st)) {
        const depth = pending.length;
        pending.push(item);
        yield* walk(host, r);
        if (pending.length > depth) pending.length = depth;
        continue;
      }
      yield* flush();
      yield item;
      if (opaque) yield entries.whiteout(childRel(r, OCI_OPAQUE), st);
      yield* walk(host, r);
    }
  }
  yield* walk(upper, '');
}

function sameXattrs(a: string, b: string): boolean {
  const xa = layerXattrs(a);
  const xb = layerXattrs(b);
  const ka = Object.keys(xa);
  if (ka.length !== Object.keys(xb).length) return false;
  return ka.every((k) => xb[k] !== undefined && Buffer.from(xa[k]).equals(Buffer.from(xb[k])));
}

/** True when upper's entry differs from lower's in anything a layer records. */
function changed(lo: string, l: BigIntStats, up: string, u: BigIntStats): boolean {
  if (l.mode !== u.mode || l.uid !== u.uid || l.gid !== u.gid || l.mtimeNs !== u.mtimeNs) return true;
  if (u.isFile() && l.size !== u.size) return true;
  if ((u.isCharacterDevice() || u.isBlockDevice()) && l.rdev !== u.rdev) return true;
  if (u.isSymbolicLink() && readlinkSync(lo) !== readlinkSync(up)) return true;
  return !sameXattrs(lo, up);
}

/** Entries that turn `lower` into `upper`; parent dirs of changes are included. */
async function* compareItems(lower: string | undefined, upper: string, opts: DiffOptions): AsyncGenerator<Item> {
  const entries = new Entries(opts);
  // Unchanged dirs wait here until something inside them changes.
  const pending: Item[] = [];
  function* flush(): Generator<Item> {
    yield* pending;
    pending.length = 0;
  }
  function* whole(host: string, rel: string, st: BigIntStats): Generator<Item> {
    yield entries.of(host, rel, st);
    if (st.isDirectory()) for (const n of sortedNames(host)) yield* whole(join(host, n), childRel(rel, n), lstatSync(join(host, n), { bigint: true }));
  }
  function* walk(lo: string | undefined, up: string, rel: string): Generator<Item> {
    const names = new Set(sortedNames(up));
    const lowerNames = lo ? sortedNames(lo) : [];
    for (const n of lowerNames) names.add(n);
    for (const name of [...names].sort()) {
      const upHost = join(up, name);
      const loHost = lo ? join(lo, name) : undefined;
      const u = lstatOrUndefined(upHost);
      const l = loHost ? lstatOrUndefined(loHost) : undefined;
      const r = childRel(rel, name);
      if (!u) {
        yield* flush();
        yield entries.whiteout(whiteoutRel(rel, name), l!);
        continue;
      }
      if (!l || typeOf(l, loHost!) !== typeOf(u, upHost)) {
        yield* flush();
        yield* whole(upHost, r, u);
        continue;
      }
      if (u.isDirectory()) {
        const item = entries.of(upHost, r, u);
        if (changed(loHost!, l, upHost, u)) {
          yield* flush();
          yield item;
          yield* walk(loHost, upHost, r);
        } else {
          const depth = pending.length;
          pending.push(item);
          yield* walk(loHost, upHost, r);
          if (pending.length > depth) pending.length = depth;
        }
      } else if (changed(loHost!, l, upHost, u)) {
        yield* flush();
        yield entries.of(upHost, r, u);
      }
    }
  }
  yield* walk(lower, upper, '');
}

const CHUNK = 1 << 20;

async function* tarChunks(items: AsyncIterable<Item>): AsyncGenerator<Uint8Array> {
  for await (const { entry, host } of items) {
    yield encodeHeader(entry);
    if (!host || entry.size === 0) continue;
    const fd = openSync(host, 'r');
    try {
      let left = entry.size;
      while (left > 0) {
        const buf = Buffer.allocUnsafe(Math.min(CHUNK, left));
        const n = readSync(fd, buf, 0, buf.length, null);
        // A file that shrank while being read: pad with zeros so the header stays true.
        if (n === 0) {
          buf.fill(0);
          yield buf;
          left -= buf.length;
          continue;
        }
        yield buf.subarray(0, n);
        left -= n;
      }
    } finally {
      closeSync(fd);
    }
    const pad = padding(entry.size);
    if (pad) yield new Uint8Array(pad);
  }
  yield END_OF_ARCHIVE;
}

/** Wraps chunks into a ReadableStream that hashes what passes through. */
function hashedStream(chunks: AsyncGenerator<Uint8Array>): LayerStream {
  const hash = createHash('sha256');
  let size = 0;
  let resolve!: (d: LayerDigest) => void;
  let reject!: (e: Error) => void;
  const done = new Promise<LayerDigest>((res, rej) => ((resolve = res), (reject = rej)));
  done.catch(() => {}); // a caller that only reads the stream sees the error there
  const stream = new ReadableStream<Uint8Array>({
    async pull(ctrl) {
      try {
        const r = await chunks.next();
        if (r.done) {
          ctrl.close();
          resolve({ diffID: `sha256:${hash.digest('hex')}`, size });
          return;
        }
        hash.update(r.value);
        size += r.value.length;
        ctrl.enqueue(r.value);
      } catch (e) {
        reject(e as Error);
        ctrl.error(e);
      }
    },
    async cancel(reason) {
      await chunks.return(undefined);
      reject(new Error(`layer stream cancelled: ${String(reason)}`));
    },
  });
  return { stream, done };
}

/** The layer in an overlayfs upperdir. */
export function diffOverlayUpper(upper: string, opts: OverlayDiffOptions = {}): LayerStream {
  return hashedStream(tarChunks(overlayItems(upper, opts)));
}

/** The layer that turns `lower` (undefined: empty) into `upper`. */
export function diffDirs(lower: string | undefined, upper: string, opts: DiffOptions = {}): LayerStream {
  return hashedStream(tarChunks(compareItems(lower, upper, opts)));
}
