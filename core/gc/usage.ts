// Disk usage and pruning of the build cache: cache records with their snapshots, the content
// store, and lazily pulled data (the stargz snapshotter's chunk cache and metadata).
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Snapshotter, SnapshotInfo } from '../snapshot/types.ts';
import { CacheRecords, type CacheRecord } from '../solver/records.ts';
import type { ContentStore } from '../content/store.ts';
import type { EdgebuildConfig } from '../config/schema.ts';

export interface UsageRow {
  id: string;
  kind: 'cache' | 'layer' | 'content' | 'lazy' | 'other';
  size: number;
  description: string;
  lastUsed?: string;
  reclaimable: boolean;
}

export interface ExtraUsage {
  /** e.g. "stargz chunk cache" */
  description: string;
  size: number;
  reclaimable: boolean;
  prune?(): Promise<number>;
}

export async function snapshotTree(sn: Snapshotter): Promise<Map<string, SnapshotInfo>> {
  const all = new Map<string, SnapshotInfo>();
  await sn.walk((info) => void all.set(info.key, info));
  return all;
}

export async function cacheUsage(root: string, sn: Snapshotter): Promise<UsageRow[]> {
  const records = new CacheRecords(root);
  const snaps = await snapshotTree(sn);
  const rows: UsageRow[] = [];
  const seen = new Set<string>();
  for (const r of records.all()) {
    if (!snaps.has(r.snapshot)) continue;
    seen.add(r.snapshot);
    const u = await sn.usage(r.snapshot).catch(() => ({ size: 0, inodes: 0 }));
    rows.push({ id: r.key.slice(7, 19), kind: 'cache', size: u.size, description: r.description, lastUsed: r.lastUsed, reclaimable: true });
  }
  for (const s of snaps.values()) {
    if (seen.has(s.key) || s.kind !== 'committed') continue;
    const u = await sn.usage(s.key).catch(() => ({ size: 0, inodes: 0 }));
    rows.push({ id: s.key, kind: s.key.startsWith('layer/') ? 'layer' : 'other', size: u.size, description: s.labels['edgebuild.layer'] ?? s.key, lastUsed: s.created, reclaimable: true });
  }
  return rows;
}

export interface PruneOptions {
  all: boolean;
  /** Keep at most this many bytes of build cache (least recently used go first). */
  keepStorage?: number;
}

/** Removes build cache records and their snapshots, children before parents. Returns bytes freed. */
export async function pruneCache(root: string, sn: Snapshotter, opts: PruneOptions): Promise<{ removed: number; freed: number }> {
  const records = new CacheRecords(root);
  const snaps = await snapshotTree(sn);
  const sizes = new Map<string, number>();
  for (const k of snaps.keys()) sizes.set(k, (await sn.usage(k).catch(() => ({ size: 0 }))).size);
  const cands: { key: string; snapshot: string; lastUsed: string; record?: CacheRecord }[] = records
    .all()
    .map((r) => ({ key: r.key, snapshot: r.snapshot, lastUsed: r.lastUsed, record: r }));
  if (opts.all) {
    const inRecords = new Set(cands.map((c) => c.snapshot));
    for (const s of snaps.values()) if (!inRecords.has(s.key) && s.kind === 'committed') cands.push({ key: '', snapshot: s.key, lastUsed: s.created });
  }
  cands.sort((a, b) => a.lastUsed.localeCompare(b.lastUsed));
  let total = cands.reduce((n, c) => n + (sizes.get(c.snapshot) ?? 0), 0);
  const chosen = new Set<string>();
  for (const c of cands) {
    if (opts.keepStorage !== undefined && total <= opts.keepStorage) break;
    chosen.add(c.snapshot);
    total -= sizes.get(c.snapshot) ?? 0;
  }
  // Children first: a snapshot can go only when no remaining snapshot has it as parent.
  let removed = 0;
  let freed = 0;
  let progress = true;
  const alive = new Map(snaps);
  while (progress) {
    progress = false;
    for (const key of [...chosen]) {
      const hasChild = [...alive.values()].some((s) => s.parent === key);
      if (hasChild) continue;
      await sn.remove(key).catch(() => {});
      alive.delete(key);
      chosen.delete(key);
      const c = cands.find((x) => x.snapshot === key);
      if (c?.key) records.delete(c.key);
      removed++;
      freed += sizes.get(key) ?? 0;
      progress = true;
    }
  }
  // Records whose snapshot is gone are stale.
  for (const r of records.all()) if (!alive.has(r.snapshot)) records.delete(r.key);
  return { removed, freed };
}

/** "10GB", "512MiB", "1000" → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)b?$/i.exec(text.trim());
  if (!m) throw new Error(`invalid size ${JSON.stringify(text)} (examples: 500MB, 10GiB, 1000000)`);
  const pow = ' kmgt'.indexOf(m[2].toLowerCase() || ' ');
  const base = m[3] ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** pow);
}

/** Bytes on disk under `dir` (allocated blocks, so sparse chunk files count as they are). */
export function dirSize(dir: string): number {
  let total = 0;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += dirSize(p);
    else {
      try {
        const st = fs.lstatSync(p);
        total += st.blocks !== undefined ? st.blocks * 512 : st.size;
      } catch {
        // removed meanwhile
      }
    }
  }
  return total;
}

const STARGZ_DIR = (root: string) => join(root, 'plugins', 'snapshotter.stargz');

/** Lazily pulled data: the stargz plugin's chunk cache (one dir per layer) and the rest of its
 *  state (TOCs, snapshot metadata), as rows for `du`. */
export function lazyUsage(root: string): UsageRow[] {
  const base = STARGZ_DIR(root);
  if (!fs.existsSync(base)) return [];
  const rows: UsageRow[] = [];
  const cacheDir = join(base, 'cache');
  let chunkTotal = 0;
  for (const layer of fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir) : []) {
    const size = dirSize(join(cacheDir, layer));
    chunkTotal += size;
    const st = fs.statSync(join(cacheDir, layer));
    rows.push({ id: layer.slice(0, 19), kind: 'lazy', size, description: `stargz chunk cache of layer ${layer}`, lastUsed: st.mtime.toISOString(), reclaimable: true });
  }
  const rest = dirSize(base) - chunkTotal;
  if (rest > 0) rows.push({ id: 'snapshotter.stargz', kind: 'lazy', size: rest, description: 'stargz snapshotter metadata (TOCs, snapshots)', reclaimable: false });
  return rows;
}

/** Removes chunk cache dirs, least recently written first, until `bytes` are freed. Chunks are
 *  re-fetched on demand, so a live lazy mount keeps working. */
export function pruneLazyCache(root: string, bytes: number): number {
  const cacheDir = join(STARGZ_DIR(root), 'cache');
  if (bytes <= 0 || !fs.existsSync(cacheDir)) return 0;
  const dirs = fs
    .readdirSync(cacheDir)
    .map((name) => ({ path: join(cacheDir, name), mtime: fs.statSync(join(cacheDir, name)).mtimeMs }))
    .sort((a, b) => a.mtime - b.mtime);
  let freed = 0;
  for (const d of dirs) {
    if (freed >= bytes) break;
    freed += dirSize(d.path);
    fs.rmSync(d.path, { recursive: true, force: true });
  }
  return freed;
}

export interface GcBudget {
  /** Bytes of build data the root may hold ([worker.oci] maxUsedSpace). */
  maxUsedSpace?: number;
  /** Bytes of build cache always kept, even over budget ([worker.oci] reservedSpace). */
  reservedSpace?: number;
}

export interface GcResult {
  before: number;
  after: number;
  removed: number;
}

/** Total bytes the root holds for builds: cache and layer snapshots, content store, lazy data. */
export async function rootUsage(root: string, sn: Snapshotter, store: ContentStore): Promise<number> {
  const rows = await cacheUsage(root, sn);
  const content = await store.usage();
  return rows.reduce((n, r) => n + r.size, 0) + content.bytes + lazyUsage(root).reduce((n, r) => n + r.size, 0);
}

/** Brings the root under maxUsedSpace: build cache first (LRU, never below reservedSpace), then
 *  lazy chunk caches, then content store blobs (oldest first; they can be fetched again). */
export async function enforceBudget(root: string, sn: Snapshotter, store: ContentStore, budget: GcBudget): Promise<GcResult> {
  const before = await rootUsage(root, sn, store);
  const max = budget.maxUsedSpace;
  if (max === undefined || before <= max) return { before, after: before, removed: 0 };
  let over = before - max;
  const cacheRows = (await cacheUsage(root, sn)).filter((r) => r.kind !== 'lazy');
  const cacheBytes = cacheRows.reduce((n, r) => n + r.size, 0);
  const keep = Math.max(budget.reservedSpace ?? 0, cacheBytes - over);
  const { removed, freed } = await pruneCache(root, sn, { all: true, keepStorage: keep });
  over -= freed;
  if (over > 0) over -= pruneLazyCache(root, over);
  if (over > 0) {
    const blobs: { digest: string; size: number; mtime: number }[] = [];
    for await (const b of store.walk()) blobs.push({ digest: b.digest, size: b.size, mtime: fs.statSync(store.path(b.digest)).mtimeMs });
    for (const b of blobs.sort((x, y) => x.mtime - y.mtime)) {
      if (over <= 0) break;
      await store.delete(b.digest);
      over -= b.size;
    }
  }
  return { before, after: await rootUsage(root, sn, store), removed };
}

/** The budget of [worker.oci] (gc, maxUsedSpace, reservedSpace); undefined when gc is off. */
export function budgetFromConfig(config: EdgebuildConfig): GcBudget | undefined {
  const oci = config.worker.oci;
  if (!oci.gc) return undefined;
  const size = (x: string | number | undefined, name: string) => {
    if (x === undefined) return undefined;
    try {
      return typeof x === 'number' ? x : parseSize(x);
    } catch (e) {
      throw new Error(`config [worker.oci] ${name}: ${(e as Error).message}`);
    }
  };
  return { maxUsedSpace: size(oci.maxUsedSpace, 'maxUsedSpace'), reservedSpace: size(oci.reservedSpace, 'reservedSpace') };
}
