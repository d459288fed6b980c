// Peers on the same registry and network, each run cold like edgebuild's: `skopeo copy` +
// `umoci unpack` (full pull) then the workload on the unpacked tree, and `buildah` (Debian's):
// `buildah pull` (its pull phase) then `buildah bud` of the same Dockerfile (its build phase).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import type { DelayLine } from './net/delay-line.ts';
import { dropPageCache } from './page-cache.ts';
import { runOnCopy } from './limit.ts';
import { watchPeakRss } from './rss.ts';
import { writeContext, type RunFigures } from './cold-run.ts';
import type { Workload } from './workloads.ts';

export interface Peer {
  name: string;
  /** Why it cannot run here, or undefined. */
  problem(): string | undefined;
  run(opts: PeerRunOptions): Promise<RunFigures>;
}

export interface PeerRunOptions {
  workload: Workload;
  /** The legacy (gzip) image reference through the delay line. */
  ref: string;
  workDir: string;
  registryStorage?: string;
  delay: DelayLine;
  signal?: AbortSignal;
}

/** The user's registry logins play no part: the bench registry is open. */
const NO_AUTH = { REGISTRY_AUTH_FILE: '/nonexistent-edgebuild-bench-auth.json' };

const missing = (tool: string) => (spawnSync(tool, ['--version']).error ? `${tool} is not installed (apt-get install ${tool})` : undefined);

async function timedSpawn(argv: string[], what: string, signal?: AbortSignal, env: Record<string, string> = {}): Promise<{ secs: number; rss: number }> {
  signal?.throwIfAborted();
  const t0 = performance.now();
  const p = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ...env } });
  const stop = () => p.kill('SIGTERM');
  signal?.addEventListener('abort', stop);
  const peak = watchPeakRss(p.pid);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const rss = peak();
  signal?.removeEventListener('abort', stop);
  if (code !== 0) throw new Error(`${what}: ${argv.slice(0, 3).join(' ')}… exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`);
  return { secs: (performance.now() - t0) / 1000, rss };
}

function prepare(o: PeerRunOptions, prefix: string): string {
  mkdirSync(o.workDir, { recursive: true });
  const dir = mkdtempSync(join(o.workDir, prefix));
  if (o.registryStorage) dropPageCache(o.registryStorage);
  o.delay.reset();
  return dir;
}

export const skopeoUmoci: Peer = {
  name: 'skopeo+umoci',
  problem: () => missing('skopeo') ?? missing('umoci'),
  async run(o) {
    const dir = prepare(o, 'skopeo-');
    try {
      const t0 = performance.now();
      const copy = await timedSpawn(['skopeo', '--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${o.ref}`, `oci:${join(dir, 'oci')}:img`], 'skopeo copy', o.signal, NO_AUTH);
      const unpack = await timedSpawn(['umoci', 'unpack', '--image', `${join(dir, 'oci')}:img`, join(dir, 'bundle')], 'umoci unpack', o.signal);
      const net = o.delay.stats();
      const run = await runOnCopy(join(dir, 'bundle', 'rootfs'), o.workload);
      return {
        pull_s: copy.secs + unpack.secs,
        create_s: 0,
        run_s: run,
        total_s: (performance.now() - t0) / 1000,
        bytes_fetched: net.bytesDown,
        requests: net.requests,
        peak_rss_bytes: Math.max(copy.rss, unpack.rss),
        lazy_layers: 0,
        pulled_layers: 0,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const buildah: Peer = {
  name: 'buildah',
  problem: () => missing('buildah'),
  async run(o) {
    const dir = prepare(o, 'buildah-');
    const storage = ['--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--storage-driver', 'overlay'];
    try {
      const context = join(dir, 'context');
      writeContext(context, o.workload, o.ref);
      const t0 = performance.now();
      const pull = await timedSpawn(['buildah', ...storage, 'pull', '--quiet', '--tls-verify=false', o.ref], 'buildah pull', o.signal);
      const bud = await timedSpawn(
        ['buildah', ...storage, 'bud', '--quiet', '--tls-verify=false', '--isolation', 'oci', '--network', 'host', '--layers=false', ...(o.workload.exportsLocal ? ['--output', `type=local,dest=${join(dir, 'out')}`] : []), '-f', join(context, 'Dockerfile'), context],
        'buildah bud',
        o.signal,
      );
      const net = o.delay.stats();
      return {
        pull_s: pull.secs,
        create_s: 0,
        run_s: bud.secs,
        total_s: (performance.now() - t0) / 1000,
        bytes_fetched: net.bytesDown,
        requests: net.requests,
        peak_rss_bytes: Math.max(pull.rss, bud.rss),
        lazy_layers: 0,
        pulled_layers: 0,
      };
    } finally {
      spawnSync('buildah', [...storage, 'rm', '--all'], { stdio: 'ignore' });
      // buildah leaves overlay mounts of its storage behind on some failures.
      spawnSync('sh', ['-c', `grep -o ' ${dir}[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l`], { stdio: 'ignore' });
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export const PEERS: Peer[] = [skopeoUmoci, buildah];
