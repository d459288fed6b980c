// Client-side outputs (local, tar, oci, docker with dest=): the daemon points each at a private
// temp path, and the client downloads it once after the build; unclaimed ones expire.
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { OutputSpec } from '../build/run.ts';
import { CLIENT_SIDE_OUTPUTS, type OutputRef } from './protocol.ts';

const TTL_MS = 10 * 60_000;

export class OutputStore {
  private readonly items = new Map<string, { path: string; expires: number }>();

  constructor(readonly dir: string) {
    fs.rmSync(dir, { recursive: true, force: true }); // outputs of an earlier daemon run are unclaimable
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Rewrites client-side outputs to temp paths; returns the specs and the refs to hand out. */
  redirect(outputs: OutputSpec[]): { specs: OutputSpec[]; refs: OutputRef[]; paths: string[] } {
    const refs: OutputRef[] = [];
    const paths: string[] = [];
    const specs = outputs.map((o, index) => {
      if (!CLIENT_SIDE_OUTPUTS.has(o.type) || o.attrs.dest === undefined) return o;
      const id = randomBytes(12).toString('hex');
      const dir = o.type === 'local' || (o.type === 'oci' && o.attrs.tar === 'false');
      const path = join(this.dir, id);
      if (dir) fs.mkdirSync(path);
      refs.push({ id, index, kind: dir ? 'dir' : 'file' });
      paths.push(path);
      return { type: o.type, attrs: { ...o.attrs, dest: path } };
    });
    return { specs, refs, paths };
  }

  publish(refs: OutputRef[]): void {
    for (const r of refs) this.items.set(r.id, { path: join(this.dir, r.id), expires: Date.now() + TTL_MS });
  }

  /** Takes an output (removed from the store; the caller deletes the path when sent). */
  take(id: string): string | undefined {
    const it = this.items.get(id);
    if (!it) return undefined;
    this.items.delete(id);
    return it.path;
  }

  discard(paths: string[]): void {
    for (const p of paths) fs.rmSync(p, { recursive: true, force: true });
  }

  expire(now = Date.now()): void {
    for (const [id, it] of this.items) {
      if (it.expires > now) continue;
      this.items.delete(id);
      fs.rmSync(it.path, { recursive: true, force: true });
    }
  }
}
