// One cold run of a workload variant, seen from outside: a fresh --root (empty content store,
// snapshots, chunk cache and build cache), the registry's blobs evicted from the page cache, the
// delay line's counters zeroed; then `edgebuild bench __run` in a child process.
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as v from 'valibot';
import { RunPhasesSchema } from './run-one.ts';
import { dropPageCache } from './page-cache.ts';
import { watchPeakRss } from './rss.ts';
import type { DelayLine } from './net/delay-line.ts';
import type { Workload } from './workloads.ts';

export interface RunFigures {
  pull_s: number;
  create_s: number;
  run_s: number;
  total_s: number;
  bytes_fetched: number;
  requests: number;
  peak_rss_bytes: number;
  lazy_layers: number;
  pulled_layers: number;
  /** Seconds from the child's spawn to each phase mark of it (core/progress/phases.ts); a mark
   *  made more than once also has NAME:last. */
  phases?: Record<string, number>;
}

/** How to start this edgebuild again: bun with the entry script it was started with, or the
 *  compiled binary itself (whose argv[1] is its embedded entry, not a file on disk). */
export function selfCommand(): string[] {
  const entry = process.argv[1] ?? '';
  return entry.endsWith('.ts') && !entry.startsWith('/$bunfs') && existsSync(entry) ? [process.execPath, entry] : [process.execPath];
}

/** Writes the workload's build context (Dockerfile + files) for image `ref`. */
export function writeContext(dir: string, w: Workload, ref: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'Dockerfile'), w.dockerfile(ref));
  for (const [name, text] of Object.entries(w.files)) writeFileSync(join(dir, name), text);
}

/** Seconds from `spawnedAt` (wall clock ms) to each mark; repeated marks also give NAME:last. */
export function phaseSeconds(marks: Record<string, { first: number; last: number; count: number }>, spawnedAt: number): Record<string, number> {
  const out: Record<string, number> = {};
  const s = (t: number) => Math.round(t - spawnedAt) / 1000;
  for (const [name, m] of Object.entries(marks)) {
    out[name] = s(m.first);
    if (m.count > 1) out[`${name}:last`] = s(m.last);
  }
  return out;
}

/** "user U s, system S s" of an exited child (for the debug log). */
function cpuOf(child: { resourceUsage(): { cpuTime: { user: number | bigint; system: number | bigint } } | undefined }): string {
  const u = child.resourceUsage();
  return u ? `user ${(Number(u.cpuTime.user) / 1e6).toFixed(3)} s, system ${(Number(u.cpuTime.system) / 1e6).toFixed(3)} s` : 'unknown';
}

/** Unmounts whatever a failed child left under `dir` (deepest first), so it can be removed. */
function unmountUnder(dir: string): void {
  const lines = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean);
  const points = lines.map((l) => l.split(' ')[4].replace(/\\040/g, ' ')).filter((p) => p === dir || p.startsWith(dir + '/'));
  for (const p of points.sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', p]);
}

export async function coldRun(opts: {
  workload: Workload;
  ref: string;
  snapshotter: string;
  workDir: string;
  registryStorage?: string;
  delay: DelayLine;
  configPath?: string;
  signal?: AbortSignal;
}): Promise<RunFigures> {
  const run = mkdtempSync(join(opts.workDir, `${opts.workload.name}-`));
  try {
    const context = join(run, 'context');
    writeContext(context, opts.workload, opts.ref);
    const spec = join(run, 'spec.json');
    const result = join(run, 'result.json');
    writeFileSync(spec, JSON.stringify({ context, snapshotter: opts.snapshotter, output: opts.workload.exportsLocal ? join(run, 'out') : undefined, result }));
    if (opts.registryStorage) dropPageCache(opts.registryStorage);
    opts.delay.reset();
    const argv = [...selfCommand(), '--root', join(run, 'root'), ...(opts.configPath ? ['--config', opts.configPath] : []), ...(process.env.EDGEBUILD_BENCH_CHILD_LOG ? ['--debug'] : []), 'bench', '__run', spec];
    const t0 = performance.now();
    const child = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, EDGEBUILD_CONFIG: opts.configPath ?? '' } });
    const rssTimeline: string[] | undefined = process.env.EDGEBUILD_BENCH_CHILD_LOG ? [] : undefined;
    const peakRss = watchPeakRss(child.pid, 25, rssTimeline);
    const onAbort = () => child.kill('SIGINT');
    opts.signal?.addEventListener('abort', onAbort);
    const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
    const total = (performance.now() - t0) / 1000;
    const rss = peakRss();
    opts.signal?.removeEventListener('abort', onAbort);
    const net = opts.delay.stats();
    // For debugging a run: its stderr (e.g. EDGEBUILD_STARGZ_TRACE lines) appended to a file.
    if (process.env.EDGEBUILD_BENCH_CHILD_LOG) appendFileSync(process.env.EDGEBUILD_BENCH_CHILD_LOG, `=== ${opts.workload.name} ${opts.ref} (${opts.snapshotter}) exit ${code} in ${total.toFixed(3)} s, started at epoch ms ${(performance.timeOrigin + t0).toFixed(0)}, cpu ${cpuOf(child)}\n${err}link-down-10ms ${opts.delay.timeline().join(",")} connections ${net.connections} requests ${net.requests}\nrss-ms:MiB/anon/file ${rssTimeline?.join(' ')}\n`);
    if (code !== 0) {
      const why = (err || out).trim().split('\n').filter((l) => !l.startsWith('    at ')).slice(-3).join(' | ');
      throw new Error(`${opts.workload.name} on ${opts.ref} (snapshotter ${opts.snapshotter}) exited ${code}: ${why}`);
    }
    const phases = v.parse(RunPhasesSchema, JSON.parse(readFileSync(result, 'utf8')));
    return {
      pull_s: phases.pull_s,
      create_s: phases.create_s,
      run_s: phases.run_s,
      total_s: total,
      bytes_fetched: net.bytesDown,
      requests: net.requests,
      peak_rss_bytes: rss,
      lazy_layers: phases.lazy_layers,
      pulled_layers: phases.pulled_layers,
      phases: phases.marks && { ...phaseSeconds(phases.marks, performance.timeOrigin + t0), exit: Math.round(total * 1000) / 1000 },
    };
  } finally {
    unmountUnder(run);
    rmSync(run, { recursive: true, force: true });
  }
}

/**
 * Wall time of a fully cached rebuild with `edgebuild build` as a user runs it: one build to fill
 * the cache, then `times` rebuilds of the same context in the same root; their median.
 */
export async function cachedRebuild(opts: { workload: Workload; ref: string; workDir: string; configPath?: string; times?: number }): Promise<number> {
  const run = mkdtempSync(join(opts.workDir, `${opts.workload.name}-rebuild-`));
  try {
    const context = join(run, 'context');
    writeContext(context, opts.workload, opts.ref);
    const argv = [
      ...selfCommand(),
      '--root',
      join(run, 'root'),
      ...(opts.configPath ? ['--config', opts.configPath] : []),
      'build',
      '--progress',
      'plain',
      '--local',
      `context=${context}`,
      '--local',
      `dockerfile=${context}`,
      ...(opts.workload.exportsLocal ? ['--output', `type=local,dest=${join(run, 'out')}`] : []),
    ];
    const once = async () => {
      const t0 = performance.now();
      const p = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, EDGEBUILD_CONFIG: opts.configPath ?? '' } });
      const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
      if (code !== 0) throw new Error(`edgebuild build of ${opts.workload.name} exited ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`);
      return { secs: (performance.now() - t0) / 1000, log: err };
    };
    await once();
    const times: number[] = [];
    for (let i = 0; i < (opts.times ?? 3); i++) {
      const r = await once();
      if (/^#\d+ \d+\.\d+ /m.test(r.log) && !/CACHED/.test(r.log)) throw new Error(`rebuild of ${opts.workload.name} ran steps instead of using the cache`);
      times.push(r.secs);
    }
    times.sort((a, b) => a - b);
    return times[times.length >> 1];
  } finally {
    unmountUnder(run);
    rmSync(run, { recursive: true, force: true });
  }
}
