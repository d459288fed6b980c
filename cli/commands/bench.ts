// `edgebuild bench`: lazy-pull gains measured on this host — cold runs of workloads per image
// variant over a shaped network, bytes counted, the physical limit beside each figure.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { PROFILES, runBench, type NetProfile } from '../../bench/bench.ts';
import { WORKLOADS, findWorkload } from '../../bench/workloads.ts';
import { DEFAULT_VARIANTS, VARIANTS, findVariant } from '../../bench/variants.ts';
import { PEERS } from '../../bench/peers.ts';
import { runOne } from '../../bench/run-one.ts';
import { renderTable } from '../../bench/report/table.ts';
import { renderSvg } from '../../bench/report/svg.ts';
import { renderHtml } from '../../bench/report/html.ts';
import pkg from '../../package.json' with { type: 'json' };

const FLAGS = [
  { name: 'quick', type: 'boolean' as const },
  { name: 'profile', type: 'string' as const },
  { name: 'rtt', type: 'string' as const },
  { name: 'rate', type: 'string' as const },
  { name: 'runs', type: 'string' as const },
  { name: 'workloads', type: 'string' as const },
  { name: 'variants', type: 'string' as const },
  { name: 'peers', type: 'string' as const },
  { name: 'registry', type: 'string' as const },
  { name: 'json', type: 'string' as const },
  { name: 'svg', type: 'string' as const },
  { name: 'html', type: 'string' as const },
  { name: 'cache-dir', type: 'string' as const },
  { name: 'no-rebuild', type: 'boolean' as const },
];

/** "100mbit", "1gbit", "20Mbit/s", "500kbit" or plain bit/s. */
export function parseRate(text: string): number {
  const m = text.trim().match(/^(\d+(?:\.\d+)?)\s*([kmg]?)(?:bit|bps|b)?(?:\/s)?$/i);
  if (!m) throw new UserError(`bench: --rate ${JSON.stringify(text)}: expected e.g. 100mbit, 1gbit or bits per second`, 2);
  const mult = { '': 1, k: 1e3, m: 1e6, g: 1e9 }[m[2].toLowerCase() as '' | 'k' | 'm' | 'g'];
  const v = Number(m[1]) * mult;
  if (!(v > 0)) throw new UserError(`bench: --rate must be above 0, got ${text}`, 2);
  return v;
}

const list = (v: unknown) => (typeof v === 'string' ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);

function orUserError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    throw new UserError(`bench: ${(e as Error).message}`, 2);
  }
}

export const benchCommand: Command = {
  name: 'bench',
  summary: 'Measure cold builds per image variant (lazy vs full pull) over a shaped network',
  help: `Usage: edgebuild bench [--quick] [--profile P | --rtt MS --rate R] [--runs N] [--workloads golang,python,…]
                       [--variants legacy,estargz-noopt,estargz,…] [--registry HOST] [--json FILE] [--svg FILE] [--html FILE]

Every run is cold: a fresh root, the registry's blobs evicted from the page cache. Phases: pull (resolve +
unpack or lazy mount), create (container up), run (workload); plus bytes fetched, HTTP requests, peak RSS.

  --quick                one small workload (python), one run, loopback; legacy + the eStargz variants that work
  --profile P            loopback | lan (1 ms, 1 gbit) | wan (20 ms, 100 mbit) | edge (60 ms, 20 mbit); default loopback
  --rtt MS, --rate R     custom shaping (R like 100mbit); needs root: netns + veth + tc tbf + a delay line
  --runs N               cold runs per variant (default 5); medians with min–max
  --workloads LIST       ${WORKLOADS.map((w) => w.name).join(', ')} (default: all)
  --variants LIST        ${VARIANTS.map((v) => v.name).join(', ')} (default: ${DEFAULT_VARIANTS.join(', ')})
  --peers LIST|none      ${PEERS.map((p) => p.name).join(', ')} (default: those installed)
  --registry HOST        use an existing registry instead of starting docker-registry
  --json FILE, --svg FILE, --html FILE   write the report (JSON), the chart, or a page with both
  --cache-dir DIR        where images, records and the registry storage are kept (default ROOT/bench,
                         env EDGEBUILD_BENCH_CACHE)
  --no-rebuild           skip timing fully cached rebuilds`,
  async run(args, ctx) {
    // Child mode: one cold run, started by bench itself.
    if (args[0] === '__run') {
      if (!args[1]) throw new UserError('bench __run: needs a spec file', 2);
      return runOne(args[1], ctx);
    }
    const { flags, positionals } = parseFlags('bench', args, FLAGS);
    if (positionals.length) throw new UserError(`bench: unexpected argument ${JSON.stringify(positionals[0])}`, 2);
    const quick = Boolean(flags.quick);
    let profile: NetProfile = PROFILES[quick ? 'loopback' : ((flags.profile as string | undefined) ?? 'loopback')];
    if (!profile) throw new UserError(`bench: --profile must be one of ${Object.keys(PROFILES).join(', ')}, got ${JSON.stringify(flags.profile)}`, 2);
    if (flags.rtt !== undefined || flags.rate !== undefined) {
      if (flags.profile) throw new UserError('bench: give --profile or --rtt/--rate, not both', 2);
      const rtt = Number(flags.rtt ?? 0);
      if (!(rtt >= 0) || !isFinite(rtt)) throw new UserError(`bench: --rtt must be milliseconds ≥ 0, got ${JSON.stringify(flags.rtt)}`, 2);
      profile = { name: 'custom', rttMs: rtt, rateBps: flags.rate !== undefined ? parseRate(flags.rate as string) : undefined };
    }
    const runs = quick ? 1 : Number(flags.runs ?? 5);
    if (!Number.isInteger(runs) || runs < 1) throw new UserError(`bench: --runs must be a whole number ≥ 1, got ${JSON.stringify(flags.runs)}`, 2);
    const workloads = orUserError(() => (quick ? [findWorkload('python')] : (list(flags.workloads) ?? WORKLOADS.map((w) => w.name)).map(findWorkload)));
    const variantNames = list(flags.variants) ?? (quick ? ['legacy', 'estargz-noopt', 'estargz'] : DEFAULT_VARIANTS);
    const variants = orUserError(() => variantNames.map(findVariant));
    const peerNames = list(flags.peers);
    const peers = quick || peerNames?.[0] === 'none' ? [] : peerNames ? peerNames.map((n) => PEERS.find((p) => p.name === n) ?? orUserError(() => { throw new Error(`unknown peer ${JSON.stringify(n)} (known: ${PEERS.map((p) => p.name).join(', ')})`); })) : PEERS;
    const cacheDir = (flags['cache-dir'] as string | undefined) ?? process.env.EDGEBUILD_BENCH_CACHE ?? join(ctx.root, 'bench');
    const host = await ctx.plugins();
    const report = await runBench(
      {
        profile,
        runs,
        workloads,
        variants,
        peers,
        registry: flags.registry as string | undefined,
        cacheDir,
        rebuild: !quick && !flags['no-rebuild'],
        skipUnavailable: quick,
        edgebuildVersion: pkg.version,
      },
      {
        isTTY: ctx.isTTY,
        signal: ctx.signal,
        configPath: ctx.configPath,
        async snapshotterProblem(id) {
          const st = host.state(`snapshotter.${id}`);
          if (!st) return 'not part of this build of edgebuild';
          return st.status === 'ok' ? undefined : `${st.status}${st.reason ? `: ${st.reason}` : ''}`;
        },
      },
    );
    for (const line of renderTable(report)) ctx.out(line);
    if (flags.json) writeFileSync(flags.json as string, JSON.stringify(report, null, 2) + '\n');
    if (flags.svg) writeFileSync(flags.svg as string, renderSvg(report));
    if (flags.html) writeFileSync(flags.html as string, renderHtml(report));
    const failed = report.results.filter((r) => !r.runs.length);
    return failed.length === report.results.length ? 1 : 0;
  },
};
