// Disk usage and pruning of the build cache: cache records with their snapshots, the content
// store, and any extra usage plugins report (lazy chunk caches).
import type { Snapshotter, SnapshotInfo } from '../snapshot/types.ts';
import { CacheRecords, type CacheRecord } from '../solver/records.ts';

export interface UsageRow {
  id: string;
  kind: 'cache' | 'layer' | 'content' | 'other';
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
