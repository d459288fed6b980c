// Resolves "user[:group]" (names or ids) against a rootfs's /etc/passwd and /etc/group, as
// Docker does for USER, COPY --chown and RUN.
import { readFileSync } from 'node:fs';
import { resolveInRoot } from '../layer/securejoin.ts';

export interface ResolvedUser {
  uid: number;
  gid: number;
  home?: string;
  additionalGids: number[];
}

function readTable(root: string, file: string): string[][] {
  try {
    return readFileSync(resolveInRoot(root, file, true), 'utf8')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(':'));
  } catch {
    return [];
  }
}

const isId = (s: string) => /^\d+$/.test(s);

export function resolveUser(root: string, spec: string): ResolvedUser {
  const [user, group] = spec.split(':', 2) as [string, string | undefined];
  const passwd = readTable(root, '/etc/passwd');
  const groups = readTable(root, '/etc/group');
  let uid: number;
  let gid: number;
  let home: string | undefined;
  let name: string | undefined;
  const byName = passwd.find((p) => p[0] === user);
  const byId = isId(user) ? passwd.find((p) => p[2] === user) : undefined;
  const entry = byName ?? byId;
  if (entry) {
    uid = Number(entry[2]);
    gid = Number(entry[3]);
    home = entry[5];
    name = entry[0];
  } else if (isId(user || '0')) {
    uid = Number(user || 0);
    gid = uid === 0 ? 0 : uid;
  } else {
    throw new Error(`unable to find user ${user}: no matching entries in passwd file`);
  }
  if (group !== undefined && group !== '') {
    const g = groups.find((x) => x[0] === group) ?? (isId(group) ? groups.find((x) => x[2] === group) : undefined);
    if (g) gid = Number(g[2]);
    else if (isId(group)) gid = Number(group);
    else throw new Error(`unable to find group ${group}: no matching entries in group file`);
  }
  const additionalGids = name
    ? groups.filter((g) => (g[3] ?? '').split(',').includes(name!)).map((g) => Number(g[2])).filter((x) => x !== gid)
    : [];
  return { uid, gid, home, additionalGids };
}
