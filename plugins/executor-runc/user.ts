// Resolves a Dockerfile USER ("name", "uid", "uid:gid", "name:group") against the rootfs's
// /etc/passwd and /etc/group, read inside the rootfs (symlinks cannot point outside it). The two
// files are read at once and off the main thread: on a lazily pulled base image each read may
// wait for the network.
import { readFile } from 'node:fs/promises';
import { resolveInRoot } from '../../core/layer/securejoin.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  additionalGids: number[];
  home: string;
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

async function readDb(rootfs: string, file: string): Promise<string[][]> {
  const host = resolveInRoot(rootfs, file, true);
  let text: string;
  try {
    text = await readFile(host, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw e;
  }
  return text
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => l.split(':'));
}

const isId = (s: string) => /^[0-9]+$/.test(s);

function passwd(db: string[][]): PasswdEntry[] {
  return db
    .filter((f) => f.length >= 7 && isId(f[2]) && isId(f[3]))
    .map((f) => ({ name: f[0], uid: Number(f[2]), gid: Number(f[3]), home: f[5] }));
}

function groups(db: string[][]): GroupEntry[] {
  return db
    .filter((f) => f.length >= 3 && isId(f[2]))
    .map((f) => ({ name: f[0], gid: Number(f[2]), members: (f[3] ?? '').split(',').filter(Boolean) }));
}

export async function resolveUser(rootfs: string, spec: string): Promise<ResolvedUser> {
  const [userPart, groupPart] = spec === '' ? ['root', undefined] : spec.split(':', 2);
  const [passwdDb, groupDbRaw] = await Promise.all([readDb(rootfs, '/etc/passwd'), readDb(rootfs, '/etc/group')]);
  const users = passwd(passwdDb);
  const entry = isId(userPart) ? users.find((u) => u.uid === Number(userPart)) : users.find((u) => u.name === userPart);
  if (!entry && !isId(userPart)) throw new Error(`unable to find user ${userPart}: no matching entries in passwd file`);
  const uid = entry?.uid ?? Number(userPart);
  let gid = entry?.gid ?? 0;
  const groupDb = groups(groupDbRaw);
  let additionalGids: number[] = [];
  if (groupPart !== undefined && groupPart !== '') {
    if (isId(groupPart)) gid = Number(groupPart);
    else {
      const g = groupDb.find((x) => x.name === groupPart);
      if (!g) throw new Error(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = g.gid;
    }
  } else if (entry) {
    // Supplementary groups only when the group was not given explicitly (as Docker does).
    additionalGids = [...new Set(groupDb.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid))];
  }
  return { uid, gid, additionalGids, home: entry?.home || '/' };
}
