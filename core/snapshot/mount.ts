// Performs the Mount descriptions snapshotters return (mount(2) through libc), and undoes them.
// Used by the solver (to read/write a snapshot) and by the runc executor (to build a rootfs).
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MNT_DETACH, SysError, mountSyscall, umount2 } from '../layer/libc.ts';
import type { Mount } from './types.ts';

const FLAGS: Record<string, [set: boolean, flag: bigint]> = {
  ro: [true, 0x1n],
  rw: [false, 0x1n],
  nosuid: [true, 0x2n],
  suid: [false, 0x2n],
  nodev: [true, 0x4n],
  dev: [false, 0x4n],
  noexec: [true, 0x8n],
  exec: [false, 0x8n],
  sync: [true, 0x10n],
  dirsync: [true, 0x80n],
  noatime: [true, 0x400n],
  nodiratime: [true, 0x800n],
  bind: [true, 0x1000n],
  rbind: [true, 0x1000n | 0x4000n],
  relatime: [true, 0x200000n],
  strictatime: [true, 0x1000000n],
};
const MS_RDONLY = 0x1n;
const MS_REMOUNT = 0x20n;
const MS_BIND = 0x1000n;
const MS_PRIVATE = 1n << 18n;
const MS_REC = 0x4000n;
const PAGE = 4096;

function parseOptions(options: string[]): { flags: bigint; data: string[] } {
  let flags = 0n;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAGS[o];
    if (!f) data.push(o);
    else if (f[0]) flags |= f[1];
    else flags &= ~f[1];
  }
  return { flags, data };
}

/** Overlay options too long for one page: run mount(8) from the lowerdirs' common parent with
 *  relative paths, as containerd does by chdir (which we cannot do in a shared process). */
async function mountLongOverlay(m: Mount, target: string, flags: bigint, data: string[]): Promise<void> {
  const dirs = data.flatMap((o) => (/^(lowerdir|upperdir|workdir)=/.test(o) ? o.slice(o.indexOf('=') + 1).split(':') : []));
  let prefix = dirs[0] ?? '/';
  while (!dirs.every((d) => d.startsWith(`${prefix}/`))) prefix = prefix.slice(0, prefix.lastIndexOf('/')) || '/';
  const rel = (p: string) => (prefix === '/' ? p.slice(1) : p.slice(prefix.length + 1));
  const relData = data.map((o) => {
    const m2 = o.match(/^(lowerdir|upperdir|workdir)=(.*)$/);
    return m2 ? `${m2[1]}=${m2[2].split(':').map(rel).join(':')}` : o;
  });
  const opts = [...(flags & MS_RDONLY ? ['ro'] : []), ...relData].join(',');
  if (opts.length >= PAGE) throw new Error(`mount ${target}: overlay options are ${opts.length} bytes even with relative paths`);
  const p = Bun.spawn(['mount', '-t', m.type, m.source, '-o', opts, target], { cwd: prefix, stdout: 'ignore', stderr: 'pipe' });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`mount ${target}: ${err.trim() || `mount exited ${code}`}`);
}

async function mountOne(m: Mount, target: string): Promise<void> {
  const { flags, data } = parseOptions(m.options);
  const dataStr = data.join(',');
  if (m.type === 'overlay' && dataStr.length >= PAGE) return mountLongOverlay(m, target, flags, data);
  const isBind = (flags & MS_BIND) !== 0n;
  try {
    // Binds ignore most flags on the first call: a read-only bind takes a remount.
    mountSyscall(m.source, target, isBind ? '' : m.type, isBind ? flags & (MS_BIND | MS_REC) : flags, dataStr);
    if (isBind && flags & ~(MS_BIND | MS_REC)) mountSyscall('', target, '', (flags & ~MS_REC) | MS_REMOUNT | MS_BIND, '');
  } catch (e) {
    if (e instanceof SysError) throw new Error(`mount ${m.type} ${m.source} on ${target} (${m.options.join(',')}): ${e.code}`);
    throw e;
  }
}

/** Mounts `mounts` on `target` in order (later ones on top). Undoes what it did on failure. */
export async function mountAll(mounts: Mount[], target: string): Promise<void> {
  mkdirSync(target, { recursive: true });
  try {
    for (const m of mounts) await mountOne(m, target);
  } catch (e) {
    await unmountAll(target);
    throw e;
  }
}

const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));

/** Mount points in this mount namespace, in mount order. */
export function mountPoints(): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Unmounts `target` and everything below it, newest first; lazy detach as the last resort. */
export async function unmountAll(target: string): Promise<void> {
  for (let pass = 0; ; pass++) {
    const mine = mountPoints()
      .map((p, i) => ({ p, i }))
      .filter(({ p }) => p === target || p.startsWith(`${target}/`))
      .sort((a, b) => b.i - a.i);
    if (mine.length === 0) return;
    for (const { p } of mine) {
      try {
        umount2(p, pass < 5 ? 0 : MNT_DETACH);
      } catch (e) {
        const code = (e as SysError).code;
        if (code === 'EINVAL' || code === 'ENOENT') continue; // already gone
        if (code !== 'EBUSY' || pass >= 6) throw new Error(`unmount ${p}: ${code}`);
      }
    }
    if (pass > 0) await sleep(50 * pass);
  }
}

/** Runs `fn` with `mounts` mounted on a fresh temp dir, then unmounts and removes it. */
export async function withMounts<T>(mounts: Mount[], fn: (dir: string) => Promise<T>, parent = tmpdir()): Promise<T> {
  const dir = mkdtempSync(join(parent, 'eb-mnt-'));
  try {
    await mountAll(mounts, dir);
    return await fn(dir);
  } finally {
    await unmountAll(dir);
    rmdirSync(dir);
  }
}

/** Makes a mount point private so mounts below it do not propagate to peers (runc bundles). */
export function makePrivate(target: string, recursive = true): void {
  mountSyscall('', target, '', MS_PRIVATE | (recursive ? MS_REC : 0n), '');
}
