// Executes a file op's actions (COPY/ADD, mkdir, mkfile, rm) on a mounted directory, with Docker's
// COPY rules: directory sources copy their contents, a file goes into dest/ when dest ends with
// "/" or is a directory, wildcards never cross "/", local context files become root-owned.
import * as fs from 'node:fs';
import { posix } from 'node:path';
import type { ChownOpt, CopyAction, FileAction, MkdirAction, MkfileAction, RmAction } from '../graph/ops.ts';
import { resolveInRoot } from '../layer/securejoin.ts';
import { resolveUser } from '../fs/users.ts';
import { hasWildcard, matchPath } from './glob.ts';

/** Paths a source hides (.dockerignore, --exclude). */
export interface PathFilter {
  excluded(rel: string, isDir: boolean): boolean;
  /** An excluded directory may still hold re-included (`!`) paths: walk it anyway. */
  mayContainIncluded?(rel: string): boolean;
}

export interface SourceTree {
  root: string; // directory (a mounted view or the local context)
  filter?: PathFilter;
  /** Local context files are owned by root in the image unless --chown says otherwise. */
  local: boolean;
}

export class FileOpError extends Error {}

interface Owner {
  uid: number;
  gid: number;
}

function resolveChown(destRoot: string, chown?: ChownOpt): Owner | undefined {
  if (!chown) return undefined;
  const spec = chown.group !== undefined ? `${chown.user}:${chown.group}` : chown.user;
  const u = resolveUser(destRoot, spec);
  // "--chown=user" without group uses the user's primary group from passwd (or uid).
  return { uid: u.uid, gid: u.gid };
}

/** Expands one source pattern (relative to the source root) into existing relative paths. */
export function expandSource(src: SourceTree, pattern: string): string[] {
  const clean = posix.normalize('/' + pattern);
  if (!hasWildcard(clean)) return [clean];
  const segs = clean.split('/').filter(Boolean);
  let current = ['/'];
  for (let i = 0; i < segs.length; i++) {
    const next: string[] = [];
    for (const dir of current) {
      if (!hasWildcard(segs[i])) {
        next.push(posix.join(dir, segs[i]));
        continue;
      }
      let names: string[] = [];
      try {
        names = fs.readdirSync(resolveInRoot(src.root, dir, true)).sort();
      } catch {
        continue;
      }
      for (const name of names) {
        const rel = posix.join(dir, name);
        if (matchPath(segs[i], name)) next.push(rel);
      }
    }
    current = next;
  }
  return current.filter((rel) => {
    try {
      const st = fs.lstatSync(resolveInRoot(src.root, rel));
      return !src.filter?.excluded(rel.slice(1), st.isDirectory());
    } catch {
      return false;
    }
  });
}

class Copier {
  private readonly links = new Map<string, string>();
  constructor(
    private readonly src: SourceTree,
    private readonly owner: Owner | undefined,
    private readonly chmod: number | undefined,
    private readonly exclude: ((rel: string) => boolean) | undefined,
  ) {}

  private ownerOf(st: fs.Stats): Owner {
    if (this.owner) return this.owner;
    return this.src.local ? { uid: 0, gid: 0 } : { uid: st.uid, gid: st.gid };
  }

  private skip(rel: string, isDir: boolean): 'skip' | 'descend' | 'copy' {
    const hidden = this.src.filter?.excluded(rel, isDir) || this.exclude?.(rel);
    if (!hidden) return 'copy';
    return isDir && this.src.filter?.mayContainIncluded?.(rel) ? 'descend' : 'skip';
  }

  /** Copies one entry (recursively for dirs) from an absolute source path to an absolute dest. */
  copy(from: string, rel: string, to: string, st = fs.lstatSync(from)): void {
    const owner = this.ownerOf(st);
    if (st.isDirectory()) {
      let dst: fs.Stats | undefined;
      try {
        dst = fs.lstatSync(to);
      } catch {}
      if (dst && !dst.isDirectory()) fs.rmSync(to, { force: true });
      if (!dst || !dst.isDirectory()) fs.mkdirSync(to, { mode: 0o755 });
      for (const name of fs.readdirSync(from).sort()) {
        const childRel = rel ? `${rel}/${name}` : name;
        const cst = fs.lstatSync(`${from}/${name}`);
        const verdict = this.skip(childRel, cst.isDirectory());
        if (verdict === 'skip') continue;
        if (verdict === 'descend') {
          // Only re-included children are copied; the directory itself is created as needed.
          this.copyFiltered(`${from}/${name}`, childRel, `${to}/${name}`, cst);
          continue;
        }
        this.copy(`${from}/${name}`, childRel, `${to}/${name}`, cst);
      }
      fs.chmodSync(to, this.chmod ?? st.mode & 0o7777);
      fs.lchownSync(to, owner.uid, owner.gid);
      fs.utimesSync(to, st.atime, st.mtime);
      return;
    }
    this.removeExisting(to);
    const key = `${st.dev}:${st.ino}`;
    if (st.nlink > 1 && !st.isDirectory() && this.links.has(key)) {
      fs.linkSync(this.links.get(key)!, to);
      return;
    }
    if (st.isSymbolicLink()) {
      fs.symlinkSync(fs.readlinkSync(from), to);
      fs.lchownSync(to, owner.uid, owner.gid);
      return;
    }
    if (st.isFile()) fs.copyFileSync(from, to);
    else if (st.isFIFO()) runOrThrow(['mkfifo', to]);
    else if (st.isCharacterDevice() || st.isBlockDevice()) {
      runOrThrow(['mknod', to, st.isCharacterDevice() ? 'c' : 'b', String(Math.floor(st.rdev / 256) & 0xfff), String((st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00))]);
    } else return; // sockets are not copied, as in BuildKit
    fs.lchownSync(to, owner.uid, owner.gid);
    fs.chmodSync(to, this.chmod ?? st.mode & 0o7777);
    fs.utimesSync(to, st.atime, st.mtime);
    if (st.nlink > 1) this.links.set(key, to);
  }

  private copyFiltered(from: string, rel: string, to: string, st: fs.Stats): void {
    for (const name of fs.readdirSync(from).sort()) {
      const childRel = `${rel}/${name}`;
      const cst = fs.lstatSync(`${from}/${name}`);
      const verdict = this.skip(childRel, cst.isDirectory());
      if (verdict === 'skip') continue;
      fs.mkdirSync(to, { recursive: true, mode: st.mode & 0o7777 });
      if (verdict === 'descend') this.copyFiltered(`${from}/${name}`, childRel, `${to}/${name}`, cst);
      else this.copy(`${from}/${name}`, childRel, `${to}/${name}`, cst);
    }
  }

  private removeExisting(to: string): void {
    try {
      const st = fs.lstatSync(to);
      if (st.isDirectory()) throw new FileOpError(`cannot replace directory ${to} with a non-directory`);
      fs.unlinkSync(to);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

function runOrThrow(argv: string[]): void {
  const p = Bun.spawnSync(argv, { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new FileOpError(`${argv.join(' ')}: ${p.stderr.toString().trim()}`);
}

function mkdirParents(destRoot: string, dir: string, owner?: Owner): void {
  // Resolve symlinks first (within the root), then create what is missing of the real path.
  const abs = resolveInRoot(destRoot, dir, true);
  const rel = abs.slice(destRoot.length).split('/').filter(Boolean);
  let cur = destRoot;
  for (const p of rel) {
    cur = `${cur}/${p}`;
    if (!fs.existsSync(cur)) {
      fs.mkdirSync(cur, { mode: 0o755 });
      if (owner) fs.lchownSync(cur, owner.uid, owner.gid);
    }
  }
}

const ARCHIVE_MAGIC: [number[], string][] = [
  [[0x1f, 0x8b], 'z'],
  [[0x42, 0x5a, 0x68], 'j'],
  [[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00], 'J'],
  [[0x28, 0xb5, 0x2f, 0xfd], 'zstd'],
];

/** ADD: is this local file an archive to extract? (gzip/bzip2/xz/zstd magic, or a tar header). */
export function archiveKind(file: string): string | undefined {
  const fd = fs.openSync(file, 'r');
  const head = Buffer.alloc(512);
  const n = fs.readSync(fd, head, 0, 512, 0);
  fs.closeSync(fd);
  for (const [magic, flag] of ARCHIVE_MAGIC) if (magic.every((b, i) => head[i] === b)) return flag;
  if (n >= 262 && head.subarray(257, 262).toString() === 'ustar') return 'tar';
  return undefined;
}

function copyAction(destRoot: string, a: CopyAction, src: SourceTree | undefined): void {
  if (!src) throw new FileOpError('copy from an empty source');
  const owner = resolveChown(destRoot, a.chown);
  const excludes = a.exclude?.length ? (rel: string) => a.exclude!.some((p) => matchPath(p, rel) || matchPath(p, rel.split('/')[0])) : undefined;
  const copier = new Copier(src, owner, a.chmod, excludes);
  const matches: string[] = [];
  for (const pattern of a.srcPaths) {
    const found = expandSource(src, pattern);
    if (found.length === 0 && !(hasWildcard(pattern) && a.allowEmptyWildcard)) {
      throw new FileOpError(hasWildcard(pattern) ? `no source files were specified by ${JSON.stringify(pattern)}` : `"${posix.normalize('/' + pattern)}" not found`);
    }
    matches.push(...found);
  }
  const destIsDir = a.dest.endsWith('/') || matches.length > 1 || a.srcPaths.some(hasWildcard);
  for (const rel of matches) {
    const from = resolveInRoot(src.root, rel, a.followSymlinks);
    let st: fs.Stats;
    try {
      st = a.followSymlinks ? fs.statSync(from) : fs.lstatSync(from);
    } catch {
      throw new FileOpError(`"${rel}" not found`);
    }
    if (src.filter?.excluded(rel.slice(1), st.isDirectory()) && !st.isDirectory()) throw new FileOpError(`"${rel}" not found (excluded by .dockerignore)`);
    const destAbs = resolveInRoot(destRoot, a.dest, true);
    if (st.isDirectory()) {
      mkdirParents(destRoot, a.dest, owner);
      copier.copy(from, rel === '/' ? '' : rel.slice(1), destAbs, st);
      continue;
    }
    if (a.attemptUnpack && src.local) {
      const kind = archiveKind(from);
      if (kind) {
        mkdirParents(destRoot, a.dest, owner);
        const flags = kind === 'tar' ? [] : kind === 'zstd' ? ['--zstd'] : [`-${kind}`];
        runOrThrow(['tar', '-x', ...flags, '-p', '--numeric-owner', '-f', from, '-C', destAbs]);
        continue;
      }
    }
    let target = destAbs;
    let isDir = destIsDir;
    try {
      isDir ||= fs.statSync(destAbs).isDirectory();
    } catch {}
    if (isDir) {
      mkdirParents(destRoot, a.dest, owner);
      target = resolveInRoot(destRoot, posix.join(a.dest, posix.basename(rel)));
    } else {
      mkdirParents(destRoot, posix.dirname(posix.normalize('/' + a.dest)));
      target = resolveInRoot(destRoot, a.dest);
    }
    copier.copy(from, rel.slice(1), target, st);
  }
}

function mkdirAction(destRoot: string, a: MkdirAction): void {
  const owner = resolveChown(destRoot, a.chown);
  if (a.makeParents) mkdirParents(destRoot, posix.dirname(posix.normalize('/' + a.path)));
  const abs = resolveInRoot(destRoot, a.path, true);
  if (fs.existsSync(abs)) return;
  fs.mkdirSync(abs, { mode: a.mode });
  fs.chmodSync(abs, a.mode);
  if (owner) fs.lchownSync(abs, owner.uid, owner.gid);
}

function mkfileAction(destRoot: string, a: MkfileAction): void {
  const owner = resolveChown(destRoot, a.chown);
  mkdirParents(destRoot, posix.dirname(posix.normalize('/' + a.path)));
  const abs = resolveInRoot(destRoot, a.path, true);
  fs.writeFileSync(abs, a.data);
  fs.chmodSync(abs, a.mode);
  if (owner) fs.lchownSync(abs, owner.uid, owner.gid);
}

function rmAction(destRoot: string, a: RmAction): void {
  const targets = a.allowWildcard && hasWildcard(a.path) ? expandSource({ root: destRoot, local: false }, a.path) : [a.path];
  for (const t of targets) {
    const abs = resolveInRoot(destRoot, t);
    if (!fs.existsSync(abs) && !a.allowNotFound) throw new FileOpError(`rm ${t}: not found`);
    fs.rmSync(abs, { recursive: true, force: true });
  }
}

/** Applies actions in order; `sources` maps an action index to its source tree (copy actions). */
export function applyFileActions(destRoot: string, actions: FileAction[], sources: (SourceTree | undefined)[]): void {
  actions.forEach((a, i) => {
    switch (a.action) {
      case 'copy':
        return copyAction(destRoot, a, sources[i]);
      case 'mkdir':
        return mkdirAction(destRoot, a);
      case 'mkfile':
        return mkfileAction(destRoot, a);
      case 'rm':
        return rmAction(destRoot, a);
    }
  });
}
