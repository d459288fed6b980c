// `edgebuild bench` from start to end: images, records and limits, network (namespace, registry,
// delay line, tbf), variants pushed, shaping checked, cold runs, peers, cached rebuilds, report.
// Everything bench creates is torn down on every exit path (errors, SIGINT, process exit).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { RegistryClient } from '../core/registry/client.ts';
import { baseImage } from './images/layout.ts';
import { computeTime, lazyReadPlan, openEstargzImage, physicalLimit, recordWorkload, type LazyReadPlan, type WorkloadRecord } from './limit.ts';
import { shapingProblem } from './net/netns.ts';
import { openBenchPath, type BenchPath } from './net/path.ts';
import { measureNet } from './net/check.ts';
import { findVariant, prepareVariant, type VariantSpec } from './variants.ts';
import { cachedRebuild, coldRun, type RunFigures } from './cold-run.ts';
import type { Peer } from './peers.ts';
import type { Workload } from './workloads.ts';
import { addRatios, fmtRate, summarize, type BenchReport, type NetworkInfo, type ResultEntry } from './report/model.ts';
import { benchProgress } from './progress.ts';

export interface NetProfile {
  name: string;
  rttMs: number;
  /** bit/s; undefined = unlimited. */
  rateBps?: number;
}

export const PROFILES: Record<string, NetProfile> = {
  loopback: { name: 'loopback', rttMs: 0 },
  lan: { name: 'lan', rttMs: 1, rateBps: 1e9 },
  wan: { name: 'wan', rttMs: 20, rateBps: 100e6 },
  edge: { name: 'edge', rttMs: 60, rateBps: 20e6 },
};

export interface BenchOptions {
  profile: NetProfile;
  runs: number;
  workloads: Workload[];
  variants: VariantSpec[];
  peers: Peer[];
  /** An existing registry (host[:port]); else bench starts its own. */
  registry?: string;
  cacheDir: string;
  /** Time fully cached rebuilds of the legacy image. */
  rebuild: boolean;
  /** Leave out variants whose snapshotter is unavailable instead of reporting them as errors. */
  skipUnavailable: boolean;
  edgebuildVersion: string;
}

export interface BenchIO {
  /** Progress goes to stderr: a bar on a terminal, lines otherwise. */
  isTTY: boolean;
  signal: AbortSignal;
  configPath?: string;
  /** ok, or why a snapshotter cannot be used. */
  snapshotterProblem(id: string): Promise<string | undefined>;
}

interface Network {
  path: BenchPath;
  info: Omit<NetworkInfo, 'measured'>;
  /** Starts shaping once images are in place. */
  shape(): void;
}

async function openNetwork(opts: BenchOptions): Promise<Network> {
  const p = opts.profile;
  const wantsShaping = p.rttMs > 0 || p.rateBps !== undefined;
  const problem = wantsShaping ? shapingProblem() : undefined;
  let upstream: { host: string; port: number } | undefined;
  if (opts.registry) {
    const i = opts.registry.lastIndexOf(':');
    upstream = i > 0 ? { host: opts.registry.slice(0, i), port: Number(opts.registry.slice(i + 1)) } : { host: opts.registry, port: 80 };
  }
  const path = await openBenchPath({ cacheDir: opts.cacheDir, upstream, netns: wantsShaping && !problem ? {} : undefined });
  const netns = path.netns;
  const mechanism = !wantsShaping
    ? 'loopback, unshaped (counting proxy only)'
    : problem
      ? `unshaped: ${problem}`
      : netns
        ? `registry in network namespace ${netns.name} behind veth ${netns.hostIf}; ${p.rateBps ? `tc tbf ${fmtRate(p.rateBps)} on both veth ends; ` : ''}userspace delay line ${p.rttMs} ms RTT (no netem in this kernel)`
        : `existing registry ${opts.registry}: userspace delay line ${p.rttMs} ms RTT only (tbf needs bench's own namespace)`;
  return {
    path,
    info: { profile: p.name, mechanism, shaped: wantsShaping && !problem, target: { rtt_ms: p.rttMs, rate_bps: p.rateBps ?? null }, note: problem },
    shape() {
      if (wantsShaping && !problem) path.shape(p.rttMs, p.rateBps);
    },
  };
}

export async function runBench(opts: BenchOptions, io: BenchIO): Promise<BenchReport> {
  const progress = benchProgress(io.isTTY, (s) => process.stderr.write(s));
  const say = (l: string) => progress.note(l);
  const check = () => io.signal.throwIfAborted();
  mkdirSync(opts.cacheDir, { recursive: true });
  const workDir = mkdtempSync(join(opts.cacheDir, `work-${process.pid}-`));
  let network: Network | undefined;
  try {
    // 1. Images, what each workload reads, and its compute time on a warm local copy.
    progress.plan(opts.workloads.length * 2);
    const layouts = new Map<string, string>();
    const records = new Map<string, WorkloadRecord>();
    const compute = new Map<string, number>();
    for (const w of opts.workloads) {
      progress.step(`image ${w.image} (built from Debian packages on first use)`);
      layouts.set(w.name, await baseImage(opts.cacheDir, w.image));
      check();
      progress.step(`recording what ${w.name} reads`);
      records.set(w.name, await recordWorkload(opts.cacheDir, layouts.get(w.name)!, w));
      compute.set(w.name, await computeTime(opts.cacheDir, layouts.get(w.name)!, w));
      check();
    }
    progress.done();

    // 2. Network and registry; variants pushed before shaping starts.
    network = await openNetwork(opts);
    const client = new RegistryClient({ signal: io.signal });
    const refs = new Map<string, { ref: string; layerBytes: number } | { error: string }>();
    const usable = new Map<string, string | undefined>();
    for (const v of opts.variants) if (!usable.has(v.snapshotter)) usable.set(v.snapshotter, await io.snapshotterProblem(v.snapshotter));
    const variants = opts.variants.filter((v) => !(opts.skipUnavailable && usable.get(v.snapshotter)));
    for (const v of opts.variants) if (!variants.includes(v)) say(`variant ${v.name} left out: snapshotter ${v.snapshotter}: ${usable.get(v.snapshotter)}`);
    const peers = opts.peers.filter((p) => {
      const why = p.problem();
      if (why) say(`peer ${p.name} left out: ${why}`);
      return !why;
    });
    // Peers and cached rebuilds use the legacy (gzip) image even when it is not a timed variant;
    // the limit needs an eStargz image's chunks even when no eStargz variant is timed.
    const pushed = (peers.length || opts.rebuild) && !variants.some((v) => v.name === 'legacy') ? [findVariant('legacy'), ...variants] : [...variants];
    const chunked = pushed.find((v) => v.name === 'estargz') ?? pushed.find((v) => v.name === 'estargz-noopt') ?? findVariant('estargz-noopt');
    if (!pushed.includes(chunked)) pushed.push(chunked);
    progress.plan(opts.workloads.length * pushed.length);
    const tmp = join(workDir, 'convert');
    mkdirSync(tmp, { recursive: true });
    for (const w of opts.workloads) {
      for (const v of pushed) {
        progress.step(`image ${w.name}:${v.name} into the registry`);
        try {
          refs.set(`${w.name}/${v.name}`, await prepareVariant({ variant: v, workload: w.name, layout: layouts.get(w.name)!, record: records.get(w.name)!, registryHost: network.path.host, cacheDir: opts.cacheDir, client, tmpDir: tmp }));
        } catch (e) {
          if (io.signal.aborted) throw e;
          refs.set(`${w.name}/${v.name}`, { error: `preparing the image: ${(e as Error).message}` });
        }
      }
    }
    // What a lazy reader must fetch for each workload, from the eStargz image's TOCs (unshaped).
    const plans = new Map<string, LazyReadPlan>();
    for (const w of opts.workloads) {
      const r = refs.get(`${w.name}/${chunked.name}`);
      if (!r || !('ref' in r)) throw new Error(`the physical limit of ${w.name} needs its ${chunked.name} image: ${r && 'error' in r ? r.error : 'not prepared'}`);
      const img = await openEstargzImage(client, r.ref);
      const plan = lazyReadPlan(records.get(w.name)!, img.layers, img.metaBytes);
      if (plan.missing.length) say(`limit ${w.name}: ${plan.missing.length} recorded file(s) not found as regular files in ${r.ref} (first: ${plan.missing[0]})`);
      plans.set(w.name, plan);
    }
    progress.done();

    // 3. Shaping, checked before anything is timed.
    network.shape();
    const probe = [...refs.values()].find((r): r is { ref: string; layerBytes: number } => 'ref' in r);
    if (!probe) throw new Error('no image could be prepared: nothing to measure');
    const probeBlob = await largestBlobPath(client, probe.ref);
    const measured = await measureNet(network.path.host, probeBlob, opts.profile.rateBps);
    say(`network: ${network.info.mechanism}`);
    say(`network: measured RTT ${measured.rttMs.toFixed(2)} ms (target ${opts.profile.rttMs} ms), rate ${fmtRate(measured.rateBps)} (target ${opts.profile.rateBps ? fmtRate(opts.profile.rateBps) : 'unlimited'})`);

    const report: BenchReport = {
      edgebuild: opts.edgebuildVersion,
      date: new Date().toISOString(),
      runs_per_variant: opts.runs,
      network: { ...network.info, measured: { rtt_ms: measured.rttMs, rate_bps: measured.rateBps } },
      results: [],
      limit: {},
    };
    for (const w of opts.workloads) {
      // The limit is computed with what the shaping check measured, not with the targets.
      const l = physicalLimit(records.get(w.name)!, plans.get(w.name)!, compute.get(w.name)!, { rttMs: measured.rttMs, rateBps: measured.rateBps });
      report.limit[w.name] = {
        seconds: l.limitS,
        read_bytes: l.readBytes,
        files: l.files,
        fetch_bytes: l.fetchBytes,
        chunk_bytes: l.plan.chunkBytes,
        chunks: l.plan.chunks,
        toc_bytes: l.plan.tocBytes,
        meta_bytes: l.plan.metaBytes,
        layers: l.plan.layers,
        transfer_s: l.transferS,
        round_trips: l.roundTrips,
        rtt_s: l.rttS,
        compute_s: l.computeS,
      };
    }

    // 4. Cold runs: run i of every variant before run i+1, so drift spreads evenly.
    progress.plan(opts.workloads.length * (variants.length + peers.length) * opts.runs);
    for (const w of opts.workloads) {
      const entries = new Map<string, ResultEntry>();
      const entry = (variant: string, kind: ResultEntry['kind'], image?: string, layerBytes?: number) => {
        let e = entries.get(variant);
        if (!e) entries.set(variant, (e = { workload: w.name, variant, kind, image, layer_bytes: layerBytes, runs: [], ...summarize([]) }));
        return e;
      };
      for (let i = 0; i < opts.runs; i++) {
        for (const v of variants) {
          const r = refs.get(`${w.name}/${v.name}`)!;
          const e = entry(v.name, 'edgebuild', 'ref' in r ? r.ref : undefined, 'ref' in r ? r.layerBytes : undefined);
          progress.step(`${w.name} ${v.name} run ${i + 1}/${opts.runs}`);
          if ('error' in r) {
            e.error = r.error;
            continue;
          }
          const problem = usable.get(v.snapshotter);
          if (problem) {
            e.error = `snapshotter ${v.snapshotter}: ${problem}`;
            continue;
          }
          if (e.error) continue;
          await attempt(e, () => coldRun({ workload: w, ref: r.ref, snapshotter: v.snapshotter, workDir, registryStorage: network!.path.registry?.storageDir, delay: network!.path.delay, configPath: io.configPath, signal: io.signal }));
        }
        const legacy = refs.get(`${w.name}/legacy`);
        for (const p of peers) {
          const e = entry(p.name, 'peer');
          progress.step(`${w.name} ${p.name} run ${i + 1}/${opts.runs}`);
          if (!legacy || !('ref' in legacy)) {
            e.error = `needs the gzip (legacy) image: ${legacy && 'error' in legacy ? legacy.error : 'not prepared'}`;
            continue;
          }
          if (e.error) continue;
          e.image = legacy.ref;
          await attempt(e, () => p.run({ workload: w, ref: legacy.ref, workDir, registryStorage: network!.path.registry?.storageDir, delay: network!.path.delay, signal: io.signal }));
        }
      }
      for (const e of entries.values()) {
        if (e.runs.length) Object.assign(e, summarize(e.runs));
        report.results.push(e);
      }
    }
    progress.done();

    // 5. Fully cached rebuilds (issue 3's bench), unshaped is irrelevant: nothing is fetched.
    if (opts.rebuild) {
      report.cached_rebuild_s = {};
      for (const w of opts.workloads) {
        const r = refs.get(`${w.name}/legacy`);
        if (!r || !('ref' in r)) continue;
        progress.step(`${w.name}: fully cached rebuild`);
        try {
          report.cached_rebuild_s[w.name] = await cachedRebuild({ workload: w, ref: r.ref, workDir, configPath: io.configPath });
        } catch (e) {
          if (io.signal.aborted) throw e;
          say(`cached rebuild of ${w.name} failed: ${(e as Error).message}`);
        }
      }
      progress.done();
    }
    addRatios(report);
    return report;

    async function attempt(e: ResultEntry, fn: () => Promise<RunFigures>): Promise<void> {
      try {
        e.runs.push(await fn());
      } catch (err) {
        if (io.signal.aborted) throw err;
        // One failed run marks the entry: later runs of it are skipped, the others go on.
        e.error = (err as Error).message;
        say(`${e.workload} ${e.variant}: ${e.error}`);
      }
    }
  } finally {
    progress.done();
    await network?.path.close();
    rmSync(workDir, { recursive: true, force: true });
  }
}

/** The path of the image's largest layer blob, for the rate check. */
async function largestBlobPath(client: RegistryClient, refText: string): Promise<string> {
  const { parseReference } = await import('../core/registry/reference.ts');
  const ref = parseReference(refText);
  const m = JSON.parse(new TextDecoder().decode((await client.getManifest(ref)).bytes)) as { layers: { digest: string; size: number }[] };
  const big = [...m.layers].sort((a, b) => b.size - a.size)[0];
  return `/v2/${ref.repository}/blobs/${big.digest}`;
}
