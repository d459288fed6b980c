// The daemon's copy of each client's local directories, kept per session and name so a rebuild
// sends only what changed: the client posts a manifest (path, type, mode, size, mtime, sha256),
// the store drops what is gone, creates directories and symlinks itself, and asks for the files
// whose content it does not have; the client then sends those as a tar, verified against the
// manifest.
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ContextEntry, ContextManifest } from './protocol.ts';
import { extractTree } from './tar-tree.ts';
import { cleanName, resolveInRoot } from '../layer/securejoin.ts';
import type { TarSource } from '../layer/tar-reader.ts';

export class ContextError extends Error {}

interface Pending {
  manifest: ContextManifest;
  missing: Set<string>;
}

export class ContextStore {
  private readonly pending = new Map<string, Pending>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dir: string) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** The directory a build reads for (session, name). */
  path(session: string, name: string): string {
    return join(this.dir, session, name);
  }

  private manifestPath(session: string, name: string): string {
    return join(this.dir, session, `${name}.manifest.json`);
  }

  /** One sync at a time per (session, name). */
  private locked<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const next = prev.catch(() => {}).then(fn);
    this.locks.set(id, next);
    next.finally(() => this.locks.get(id) === next && this.locks.delete(id)).catch(() => {});
    return next;
  }

  /** Applies a manifest; returns the files whose bytes must be sent. */
  sync(session: string, name: string, manifest: ContextManifest): Promise<string[]> {
    return this.locked(`${session}/${name}`, async () => {
      const root = this.path(session, name);
      fs.mkdirSync(root, { recursive: true, mode: 0o700 });
      const old = new Map<string, ContextEntry>();
      try {
        for (const e of (JSON.parse(fs.readFileSync(this.manifestPath(session, name), 'utf8')) as ContextManifest).entries) old.set(e.path, e);
      } catch {
        // first sync of this session: everything is new
      }
      const wanted = new Map<string, ContextEntry>();
      for (const e of manifest.entries) {
        const rel = cleanName(e.path);
        if (!rel || rel !== e.path) throw new ContextError(`context ${name}: entry path ${JSON.stringify(e.path)} is not a clean relative path`);
        if (e.type === 'file' && !e.hash) throw new ContextError(`context ${name}: file ${e.path} has no hash`);
        wanted.set(rel, e);
      }
      // Remove what is gone or changed type (deepest first).
      for (const rel of [...old.keys()].sort().reverse()) {
        const now = wanted.get(rel);
        if (!now || now.type !== old.get(rel)!.type || (now.type === 'symlink' && now.target !== old.get(rel)!.target)) fs.rmSync(resolveInRoot(root, rel), { recursive: true, force: true });
      }
      const missing: string[] = [];
      for (const e of [...wanted.values()].sort((a, b) => a.path.localeCompare(b.path))) {
        const host = resolveInRoot(root, e.path);
        if (e.type === 'dir') {
          fs.mkdirSync(host, { recursive: true });
          fs.chmodSync(host, e.mode);
        } else if (e.type === 'symlink') {
          if (!fs.existsSync(host) && !isLink(host)) fs.symlinkSync(e.target ?? '', host);
        } else {
          const prev = old.get(e.path);
          if (prev?.type === 'file' && prev.hash === e.hash && fs.existsSync(host)) {
            if (prev.mode !== e.mode) fs.chmodSync(host, e.mode);
            if (prev.mtimeMs !== e.mtimeMs) fs.utimesSync(host, e.mtimeMs / 1000, e.mtimeMs / 1000);
          } else missing.push(e.path);
        }
      }
      // The stored manifest describes the tree only once the missing files arrived.
      this.pending.set(`${session}/${name}`, { manifest, missing: new Set(missing) });
      if (missing.length === 0) this.commit(session, name, manifest);
      return missing;
    });
  }

  /** Receives the tar of the files `sync` asked for; each is checked against the manifest. */
  receive(session: string, name: string, tar: TarSource): Promise<void> {
    return this.locked(`${session}/${name}`, async () => {
      const p = this.pending.get(`${session}/${name}`);
      if (!p) throw new ContextError(`context ${name}: no manifest was posted for session ${session}`);
      const root = this.path(session, name);
      const byPath = new Map(p.manifest.entries.map((e) => [e.path, e]));
      const got = new Set<string>();
      await extractTree(root, tar, {
        onFile: (rel, sha) => {
          const e = byPath.get(rel);
          if (!e || !p.missing.has(rel)) throw new ContextError(`context ${name}: file ${rel} was not asked for`);
          if (e.hash !== sha) throw new ContextError(`context ${name}: file ${rel} has sha256 ${sha}, manifest says ${e.hash}`);
          got.add(rel);
        },
      });
      const absent = [...p.missing].filter((m) => !got.has(m));
      if (absent.length) throw new ContextError(`context ${name}: ${absent.length} files missing from the upload (first: ${absent[0]})`);
      this.commit(session, name, p.manifest);
    });
  }

  private commit(session: string, name: string, manifest: ContextManifest): void {
    this.pending.delete(`${session}/${name}`);
    const now = new Date();
    fs.utimesSync(join(this.dir, session), now, now); // last use, for prune()
    const path = this.manifestPath(session, name);
    fs.writeFileSync(`${path}.tmp`, JSON.stringify(manifest));
    fs.renameSync(`${path}.tmp`, path);
  }

  /** Drops the copies of sessions not synced for `maxAgeMs` (their next build sends everything). */
  prune(maxAgeMs: number, now = Date.now()): number {
    let removed = 0;
    for (const session of fs.readdirSync(this.dir)) {
      const dir = join(this.dir, session);
      if (now - fs.statSync(dir).mtimeMs < maxAgeMs) continue;
      if ([...this.locks.keys(), ...this.pending.keys()].some((k) => k.startsWith(`${session}/`))) continue;
      fs.rmSync(dir, { recursive: true, force: true });
      removed++;
    }
    return removed;
  }

  /** True when the last sync of (session, name) completed. */
  ready(session: string, name: string): boolean {
    return !this.pending.has(`${session}/${name}`) && fs.existsSync(this.manifestPath(session, name));
  }
}

function isLink(p: string): boolean {
  try {
    return fs.lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
