// Sends a local directory to the daemon for one session: a manifest of what is there (after
// .dockerignore), then a tar of only the files the daemon lacks. The session id is stable per
// (user, directory, name), so a rebuild from the same directory sends just the changes.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import type { ContextEntry } from '../daemon/protocol.ts';
import { packTree } from '../daemon/tar-tree.ts';
import type { PathFilter } from '../solver/fileops.ts';
import { DaemonConnection, DaemonError, errorLine } from './connection.ts';

export function sessionId(dirs: string[]): string {
  return createHash('sha256').update(`${hostname()}\0${userInfo().uid}\0${dirs.join('\0')}`).digest('hex').slice(0, 32);
}

const hashes = new Map<string, string>();
function fileHash(abs: string, st: fs.Stats): string {
  const memo = `${abs}\0${st.size}\0${st.mtimeMs}\0${st.ino}`;
  let h = hashes.get(memo);
  if (!h) hashes.set(memo, (h = new Bun.CryptoHasher('sha256').update(fs.readFileSync(abs)).digest('hex')));
  return h;
}

/** Entries of `dir`: all of them, or only `only` (top-level names), skipping what `filter` excludes. */
export function contextManifest(dir: string, filter?: PathFilter, only?: string[]): ContextEntry[] {
  const out: ContextEntry[] = [];
  const add = (rel: string) => {
    const abs = join(dir, rel);
    const st = fs.lstatSync(abs);
    if (st.isSymbolicLink()) out.push({ path: rel, type: 'symlink', mode: st.mode & 0o7777, size: 0, mtimeMs: st.mtimeMs, target: fs.readlinkSync(abs) });
    else if (st.isFile()) out.push({ path: rel, type: 'file', mode: st.mode & 0o7777, size: st.size, mtimeMs: st.mtimeMs, hash: fileHash(abs, st) });
    else if (st.isDirectory()) {
      out.push({ path: rel, type: 'dir', mode: st.mode & 0o7777, size: 0, mtimeMs: st.mtimeMs });
      visit(rel);
    }
    // sockets, fifos and devices are not context material
  };
  const visit = (rel: string) => {
    for (const name of fs.readdirSync(join(dir, rel)).sort()) {
      const child = rel ? `${rel}/${name}` : name;
      const isDir = fs.lstatSync(join(dir, child)).isDirectory();
      if (filter?.excluded(child, isDir) && !(isDir && filter.mayContainIncluded?.(child))) continue;
      add(child);
    }
  };
  if (only) for (const name of only) fs.existsSync(join(dir, name)) && add(name);
  else visit('');
  return out;
}

export interface SyncResult {
  files: number;
  sent: number;
  bytes: number;
}

export async function syncContext(conn: DaemonConnection, session: string, name: string, dir: string, entries: ContextEntry[], signal?: AbortSignal): Promise<SyncResult> {
  const base = `/v1/contexts/${session}/${encodeURIComponent(name)}`;
  const { missing } = await conn.json<{ missing: string[] }>(`${base}/manifest`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ entries }),
    signal,
  });
  if (!Array.isArray(missing)) throw new DaemonError(`daemon: unexpected answer to the ${name} manifest`);
  const sizes = new Map(entries.map((e) => [e.path, e.size]));
  const bytes = missing.reduce((n, p) => n + (sizes.get(p) ?? 0), 0);
  if (missing.length) {
    const res = await conn.fetch(`${base}/files`, { method: 'PUT', headers: { 'content-type': 'application/x-tar' }, body: packTree(dir, missing), signal, duplex: 'half' } as RequestInit);
    if (!res.ok) throw new DaemonError(await errorLine(res));
    await res.body?.cancel();
  }
  return { files: entries.filter((e) => e.type === 'file').length, sent: missing.length, bytes };
}
