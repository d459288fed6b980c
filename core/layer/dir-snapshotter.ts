// A snapshotter whose snapshots are directories under its root (snapshots/<id>/fs and work).
// The bookkeeping is shared; a driver decides how a snapshot's fs is filled, mounted and diffed
// (overlay stacks layer dirs as lowerdirs; native keeps a full copy per snapshot).
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Mount, PrepareOptions, SnapshotInfo, SnapshotKind, SnapshotUsage } from '../snapshot/types.ts';
import { applyLayer, type ApplyMode } from './apply.ts';
import type { DiffOptions, LayerDigest, LayerStream } from './diff.ts';
import { SnapshotStore } from './snapshot-store.ts';
import { OWNER_LABEL, ownerToken } from './owner.ts';
import type { TarSource } from './tar-reader.ts';
import type { LayerSnapshotter } from './types.ts';

export interface SnapshotDirs {
  kind: SnapshotKind;
  fs: string;
  work: string;
  /** fs dirs of the committed ancestors, nearest first. */
  parents: string[];
}

export interface DirDriver {
  /** How layers are unpacked into a snapshot's fs. */
  applyMode: ApplyMode;
  /** Fills a new snapshot's empty fs (native copies the parent; overlay needs nothing). */
  populate(s: SnapshotDirs): Promise<void>;
  mounts(s: SnapshotDirs): Mount[];
  diff(s: SnapshotDirs, opts: DiffOptions): LayerStream;
}

/** Bytes on disk (allocated blocks) and inodes under dir, each hardlinked inode once. */
export function diskUsage(dir: string): SnapshotUsage {
  const seen = new Set<bigint>();
  let size = 0;
  const visit = (p: string) => {
    const st = lstatSync(p, { bigint: true });
    if (!seen.has(st.ino)) {
      seen.add(st.ino);
      size += Number(st.blocks) * 512;
    }
    if (st.isDirectory()) for (const c of readdirSync(p)) visit(join(p, c));
  };
  visit(dir);
  return { size, inodes: seen.size };
}

export class DirSnapshotter implements LayerSnapshotter {
  readonly store: SnapshotStore;

  constructor(
    root: string,
    private readonly driver: DirDriver,
  ) {
    this.store = new SnapshotStore(root);
  }

  private dirs(kind: SnapshotKind, id: number, parent: string | undefined): SnapshotDirs {
    const d = this.store.dir(id);
    return { kind, fs: join(d, 'fs'), work: join(d, 'work'), parents: this.store.chain(parent).map((p) => join(this.store.dir(p.id), 'fs')) };
  }

  private async create(kind: 'active' | 'view', key: string, parent: string | undefined, opts?: PrepareOptions): Promise<Mount[]> {
    if (key === '') throw new Error('snapshot key must not be empty');
    const s = await this.store.update((snaps, allocId) => {
      if (this.store.get(key)) throw new Error(`snapshot ${JSON.stringify(key)} already exists`);
      this.store.chain(parent); // the parent must exist and be committed
      // The owner label lets the next start remove what a killed process left unfinished.
      const rec = { id: allocId(), kind, parent, labels: { ...opts?.labels, [OWNER_LABEL]: ownerToken() }, created: new Date().toISOString() };
      mkdirSync(join(this.store.dir(rec.id), 'fs'), { recursive: true, mode: 0o755 });
      mkdirSync(join(this.store.dir(rec.id), 'work'), { mode: 0o700 });
      snaps[key] = rec;
      return rec;
    });
    const dirs = this.dirs(kind, s.id, parent);
    try {
      await this.driver.populate(dirs);
    } catch (e) {
      await this.remove(key).catch(() => {});
      throw e;
    }
    return this.driver.mounts(dirs);
  }

  prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    return this.create('active', key, parent, opts);
  }

  view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    return this.create('view', key, parent, opts);
  }

  async mounts(key: string): Promise<Mount[]> {
    this.store.refresh();
    const s = this.store.require(key, ['active', 'view']);
    return this.driver.mounts(this.dirs(s.kind, s.id, s.parent));
  }

  async commit(name: string, key: string, opts?: PrepareOptions): Promise<void> {
    await this.store.update((snaps) => {
      const s = this.store.require(key, ['active']);
      if (this.store.get(name)) throw new Error(`snapshot ${JSON.stringify(name)} already exists`);
      delete snaps[key];
      const { [OWNER_LABEL]: _owner, ...labels } = { ...s.labels, ...opts?.labels };
      snaps[name] = { ...s, kind: 'committed', labels };
    });
  }

  /**
   * Commits an active snapshot that was prepared without a parent as a child of `parent`. Only
   * for a driver whose fs holds the layer's own changes (overlay): the fs is the same whatever
   * lies below, so a layer can be filled (or lazily mounted) before its parent exists.
   */
  async commitOnto(name: string, key: string, parent: string | undefined, opts?: PrepareOptions): Promise<void> {
    if (this.driver.applyMode !== 'overlay') throw new Error(`snapshot ${JSON.stringify(key)}: only layer-diff (overlay) snapshots can be committed onto another parent`);
    await this.store.update((snaps) => {
      const s = this.store.require(key, ['active']);
      if (s.parent !== undefined) throw new Error(`snapshot ${JSON.stringify(key)} already has parent ${JSON.stringify(s.parent)}`);
      if (this.store.get(name)) throw new Error(`snapshot ${JSON.stringify(name)} already exists`);
      this.store.chain(parent); // the parent must exist and be committed
      delete snaps[key];
      const { [OWNER_LABEL]: _owner, ...labels } = { ...s.labels, ...opts?.labels };
      snaps[name] = { ...s, kind: 'committed', ...(parent !== undefined ? { parent } : {}), labels };
    });
  }

  async remove(key: string): Promise<void> {
    const id = await this.store.update((snaps) => {
      const s = this.store.require(key);
      const children = this.store.children(key);
      if (children.length) throw new Error(`snapshot ${JSON.stringify(key)} has children (${children.map((c) => JSON.stringify(c)).join(', ')}): remove them first`);
      delete snaps[key];
      // Out of the way under the lock; deleted after it (a crash leaves an orphan, swept at start).
      renameSync(this.store.dir(s.id), this.store.dir(s.id) + '.removing');
      return s.id;
    });
    rmSync(this.store.dir(id) + '.removing', { recursive: true, force: true });
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    this.store.refresh();
    const s = this.store.get(key);
    return s && this.store.info(key, s);
  }

  async usage(key: string): Promise<SnapshotUsage> {
    this.store.refresh();
    const s = this.store.require(key);
    return diskUsage(join(this.store.dir(s.id), 'fs'));
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void> {
    this.store.refresh();
    for (const k of this.store.keys()) {
      const s = this.store.get(k);
      if (s) await fn(this.store.info(k, s));
    }
  }

  async close(): Promise<void> {}

  async applyLayer(key: string, parent: string | undefined, tar: TarSource, opts?: PrepareOptions): Promise<LayerDigest> {
    this.store.refresh();
    if (this.store.get(key)) throw new Error(`snapshot ${JSON.stringify(key)} already exists`);
    const tmpKey = `extract-${randomBytes(6).toString('hex')} ${key}`;
    await this.prepare(tmpKey, parent);
    try {
      const s = this.store.require(tmpKey);
      const dirs = this.dirs('active', s.id, parent);
      const res = await applyLayer(dirs.fs, tar, { mode: this.driver.applyMode, parents: dirs.parents });
      await this.commit(key, tmpKey, opts);
      return res;
    } catch (e) {
      await this.remove(tmpKey).catch(() => {});
      throw e;
    }
  }

  async diff(key: string, opts: DiffOptions = {}): Promise<LayerStream> {
    this.store.refresh();
    const s = this.store.require(key, ['active', 'committed']);
    return this.driver.diff(this.dirs(s.kind, s.id, s.parent), opts);
  }
}
