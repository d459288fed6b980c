// Metadata of directory-backed snapshots (overlay, native): one JSON file rewritten atomically
// (temp file + rename) after each change. Changes are serialised within the process and, with
// flock on a lock file, between processes sharing the root; each change starts from the file.
import * as v from 'valibot';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { flockExclusive } from './libc.ts';
import { OWNER_LABEL, ownerAlive } from './owner.ts';
import type { SnapshotInfo, SnapshotKind } from '../snapshot/types.ts';

const RecordSchema = v.object({
  id: v.pipe(v.number(), v.integer(), v.minValue(1)),
  kind: v.picklist(['view', 'active', 'committed']),
  parent: v.optional(v.string()),
  labels: v.record(v.string(), v.string()),
  created: v.string(),
});
const MetaSchema = v.object({
  version: v.literal(1),
  nextId: v.pipe(v.number(), v.integer(), v.minValue(1)),
  snapshots: v.record(v.string(), RecordSchema),
});

export type SnapshotRecord = v.InferOutput<typeof RecordSchema>;
type Meta = v.InferOutput<typeof MetaSchema>;

/** The committed records, as text: equal before and after a change that touched none of them. */
function committedState(snaps: Record<string, SnapshotRecord>): string {
  return JSON.stringify(Object.entries(snaps).filter(([, s]) => s.kind === 'committed'));
}

export class SnapshotStore {
  private meta: Meta;
  private queue: Promise<unknown> = Promise.resolve();
  readonly snapshotsDir: string;
  private readonly file: string;
  private readonly lockFile: string;

  constructor(readonly root: string) {
    this.snapshotsDir = join(root, 'snapshots');
    this.file = join(root, 'metadata.json');
    this.lockFile = join(root, 'metadata.lock');
    mkdirSync(this.snapshotsDir, { recursive: true });
    this.meta = this.locked(() => {
      this.meta = this.load();
      this.removeDeadWork();
      this.removeOrphans();
      return this.meta;
    });
  }

  /** Runs fn holding the cross-process lock (held only for short, synchronous steps). */
  private locked<T>(fn: () => T): T {
    const fd = openSync(this.lockFile, 'a', 0o600);
    try {
      flockExclusive(fd, this.lockFile);
      return fn();
    } finally {
      closeSync(fd);
    }
  }

  private load(): Meta {
    if (!existsSync(this.file)) return { version: 1, nextId: 1, snapshots: {} };
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.file, 'utf8'));
    } catch (e) {
      throw new Error(`${this.file}: not valid JSON: ${(e as Error).message}`);
    }
    const parsed = v.safeParse(MetaSchema, raw);
    if (!parsed.success) {
      const issue = parsed.issues[0];
      const path = issue.path?.map((p) => String(p.key)).join('.') ?? '';
      throw new Error(`${this.file}: ${path ? `key ${path}: ` : ''}${issue.message}`);
    }
    return parsed.output;
  }

  /** Active and view snapshots of a process that died (killed mid-build): nobody will commit
   *  or remove them. Their dirs go with removeOrphans. */
  private removeDeadWork(): void {
    const dead = Object.entries(this.meta.snapshots).filter(([key, s]) => s.kind !== 'committed' && OWNER_LABEL in s.labels && !ownerAlive(s.labels[OWNER_LABEL]) && this.children(key).length === 0);
    if (!dead.length) return;
    for (const [key] of dead) delete this.meta.snapshots[key];
    this.save();
  }

  /** Dirs left by a crash between creating a snapshot dir and recording it. */
  private removeOrphans(): void {
    const known = new Set(Object.values(this.meta.snapshots).map((s) => String(s.id)));
    for (const d of readdirSync(this.snapshotsDir)) if (!known.has(d)) rmSync(join(this.snapshotsDir, d), { recursive: true, force: true });
  }

  /** Writes the metadata (temp file + rename). `durable`: fsync first, for changes to committed
   *  snapshots. Active and view records need no sync: losing one in a crash loses nothing, since
   *  the next start removes the work of a dead process and dirs no record names anyway. */
  private save(durable = true): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, JSON.stringify(this.meta, null, 1));
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  /** Runs `fn` on the current metadata with no other change in between (in this or another
   *  process); saves if it returns normally (synced to disk when a committed snapshot changed). */
  update<T>(fn: (snapshots: Record<string, SnapshotRecord>, allocId: () => number) => T): Promise<T> {
    const run = async () =>
      this.locked(() => {
        this.meta = this.load();
        try {
          const before = committedState(this.meta.snapshots);
          const out = fn(this.meta.snapshots, () => this.meta.nextId++);
          this.save(committedState(this.meta.snapshots) !== before);
          return out;
        } catch (e) {
          this.meta = this.load(); // drop a half-made change
          throw e;
        }
      });
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => {});
    return p;
  }

  /** Re-reads the metadata (another process may have changed it). */
  refresh(): void {
    this.meta = this.locked(() => this.load());
  }

  get(key: string): SnapshotRecord | undefined {
    return Object.hasOwn(this.meta.snapshots, key) ? this.meta.snapshots[key] : undefined;
  }

  require(key: string, kinds?: SnapshotKind[]): SnapshotRecord {
    const s = this.get(key);
    if (!s) throw new Error(`snapshot ${JSON.stringify(key)} does not exist`);
    if (kinds && !kinds.includes(s.kind)) throw new Error(`snapshot ${JSON.stringify(key)} is ${s.kind}, expected ${kinds.join(' or ')}`);
    return s;
  }

  children(key: string): string[] {
    return Object.entries(this.meta.snapshots)
      .filter(([, s]) => s.parent === key)
      .map(([k]) => k)
      .sort();
  }

  dir(id: number): string {
    return join(this.snapshotsDir, String(id));
  }

  /** Committed ancestors of a parent key, nearest first (the overlay lowerdir order). */
  chain(parent: string | undefined): SnapshotRecord[] {
    const out: SnapshotRecord[] = [];
    for (let k = parent; k !== undefined; ) {
      const s = this.require(k, ['committed']);
      out.push(s);
      k = s.parent;
      if (out.length > 10_000) throw new Error(`snapshot ${JSON.stringify(parent)}: parent chain loops`);
    }
    return out;
  }

  info(key: string, s: SnapshotRecord): SnapshotInfo {
    return { key, parent: s.parent, kind: s.kind, labels: { ...s.labels }, created: s.created };
  }

  keys(): string[] {
    return Object.keys(this.meta.snapshots).sort();
  }
}
