// Debian root filesystems for bench and test images, made once with debootstrap and reused from a
// cache dir. Processes share the cache: a mkdir lock serialises the build, which goes into a temp
// dir renamed into place at the end, so a half-made rootfs is never seen.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const DEBIAN_SUITE = 'bookworm';
/** Bump the suffix when the post-processing below changes: the cache is keyed by name. */
export const ROOTFS_NAME = 'bookworm-minbase-slim1';

/** The Debian mirror apt is configured with (one-line .list or deb822 .sources files). */
export function debianMirror(): string {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (existsSync(dir)) {
    for (const f of readdirSync(dir).sort()) if (f.endsWith('.list') || f.endsWith('.sources')) files.push(join(dir, f));
  }
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    if (file.endsWith('.sources')) {
      // deb822: stanzas separated by blank lines, "Key: value" fields.
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, 'mi'))?.[1].trim().split(/\s+/) ?? [];
        if (!field('Types').includes('deb')) continue;
        if (!field('Suites').includes(DEBIAN_SUITE) || !field('Components').includes('main')) continue;
        const uri = field('URIs')[0];
        if (uri) return uri;
      }
    } else {
      for (const line of text.split('\n')) {
        const m = line.match(/^\s*deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s+(.*)$/);
        if (m && m[2] === DEBIAN_SUITE && m[3].split(/\s+/).includes('main')) return m[1];
      }
    }
  }
  throw new Error(`no "deb … ${DEBIAN_SUITE} main" source in /etc/apt/sources.list or sources.list.d: cannot debootstrap`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `build(tmpDir)` once for `finalDir`, under a lock shared by all processes; returns
 * `finalDir`. A lock left by a dead process is taken over.
 */
export async function buildOnce(finalDir: string, build: (tmpDir: string) => Promise<void>): Promise<string> {
  if (existsSync(finalDir)) return finalDir;
  const parent = join(finalDir, '..');
  mkdirSync(parent, { recursive: true });
  const lock = `${finalDir}.lock`;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (existsSync(finalDir)) return finalDir;
      let pid = 0;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {}
      if (pid > 0 && !existsSync(`/proc/${pid}`)) rmSync(lock, { recursive: true, force: true });
      await sleep(500);
    }
  }
  try {
    if (existsSync(finalDir)) return finalDir;
    const tmp = `${finalDir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    try {
      await build(tmp);
      renameSync(tmp, finalDir);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    return finalDir;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function run(cmd: string[], what: string): Promise<void> {
  const p = Bun.spawn(cmd, { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    const tail = (out + err).trim().split('\n').slice(-5).join(' | ');
    throw new Error(`${what}: ${cmd.join(' ')} exited ${code}: ${tail}`);
  }
}

/**
 * A debootstrap --variant=minbase rootfs of Debian bookworm, cached under
 * `<cacheDir>/rootfs/<name>`. First build takes 35–65 s here (network-bound), then is reused.
 */
export async function debianRootfs(cacheDir: string, name = ROOTFS_NAME): Promise<string> {
  const dir = join(cacheDir, 'rootfs', name);
  return buildOnce(dir, async (tmp) => {
    const mirror = debianMirror();
    await run(['debootstrap', '--variant=minbase', DEBIAN_SUITE, tmp, mirror], `debootstrap ${name}`);
    // Leave no host-specific state that would make layers differ between machines.
    rmSync(join(tmp, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(tmp, 'var/cache/apt/archives/partial'), { recursive: true });
    rmSync(join(tmp, 'debootstrap'), { recursive: true, force: true });
    // debootstrap copies the host's resolver and name; an image carries neither (the runtime
    // bind-mounts its own resolv.conf over the empty file).
    writeFileSync(join(tmp, 'etc/resolv.conf'), '');
    rmSync(join(tmp, 'etc/hostname'), { force: true });
    // Slim like debian:bookworm-slim: no apt lists, docs, man pages or translations (now or
    // from later apt-get installs), so layers stay small (~85 MB tree, ~28 MB gzip).
    for (const d of ['var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/locale', 'usr/share/info']) {
      rmSync(join(tmp, d), { recursive: true, force: true });
      mkdirSync(join(tmp, d), { recursive: true });
    }
    mkdirSync(join(tmp, 'var/lib/apt/lists/partial'));
    writeFileSync(
      join(tmp, 'etc/dpkg/dpkg.cfg.d/slim'),
      ['/usr/share/doc/*', '/usr/share/man/*', '/usr/share/locale/*', '/usr/share/info/*'].map((p) => `path-exclude ${p}\n`).join(''),
    );
  });
}
