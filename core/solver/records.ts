// Persistent cache records: cache key → the committed snapshot and the layer chain it ends.
// One JSON file per key, written via temp + rename.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { LayerRecord } from './worker.ts';
import type { LayerAccesses } from '../snapshot/types.ts';

export interface CacheRecord {
  key: string;
  snapshot: string;
  layers: LayerRecord[];
  description: string;
  created: string;
  lastUsed: string;
  /** Files the step opened in lazily mounted layers (see SolvedStep.accessed). */
  accessed?: LayerAccesses;
}

export class CacheRecords {
  private readonly dir: string;
  constructor(root: string) {
    this.dir = join(root, 'cache', 'records');
    fs.mkdirSync(this.dir, { recursive: true });
  }

  private path(key: string): string {
    return join(this.dir, key.replace(/^sha256:/, '') + '.json');
  }

  get(key: string): CacheRecord | undefined {
    try {
      return JSON.parse(fs.readFileSync(this.path(key), 'utf8')) as CacheRecord;
    } catch {
      return undefined;
    }
  }

  put(rec: CacheRecord): void {
    const tmp = `${this.path(rec.key)}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(rec));
    fs.renameSync(tmp, this.path(rec.key));
  }

  touch(key: string): void {
    const rec = this.get(key);
    if (rec) this.put({ ...rec, lastUsed: new Date().toISOString() });
  }

  delete(key: string): void {
    fs.rmSync(this.path(key), { force: true });
  }

  all(): CacheRecord[] {
    return fs
      .readdirSync(this.dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => this.get('sha256:' + f.slice(0, -5)))
      .filter((r): r is CacheRecord => r !== undefined);
  }
}
