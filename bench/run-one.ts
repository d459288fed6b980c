// One cold run, in its own process (`edgebuild --root FRESH bench __run SPEC.json`), so the
// parent can time it from the outside and read its peak RSS. The build runs in-process like
// `edgebuild build`, with the worker wrapped to time the phases: pull (resolve + unpack or lazy
// mount of the base image), create (from the executor call until the workload prints the bench
// marker: snapshot mounts, runc create, the shell starting) and run (marker to exit).
import * as v from 'valibot';
import { readFileSync, writeFileSync } from 'node:fs';
import type { CommandContext } from '../cli/command.ts';
import { runBuild } from '../core/build/run.ts';
import { ProgressStream } from '../core/progress/events.ts';
import { createLocalWorker } from '../core/worker/local.ts';
import { hostPlatform } from '../core/image/platform.ts';
import { compileFilter } from '../plugins/frontend-dockerfile/dockerignore.ts';
import type { Worker } from '../core/solver/worker.ts';
import { RUN_MARKER } from './workloads.ts';
import { phase, phaseMarks } from '../core/progress/phases.ts';

export const RunSpecSchema = v.object({
  context: v.string(),
  snapshotter: v.string(),
  output: v.optional(v.string()),
  result: v.string(),
});
export type RunSpec = v.InferOutput<typeof RunSpecSchema>;

export const RunPhasesSchema = v.object({
  pull_s: v.number(),
  create_s: v.number(),
  run_s: v.number(),
  build_s: v.number(),
  lazy_layers: v.number(),
  pulled_layers: v.number(),
  /** Phase marks of the child (core/progress/phases.ts): wall clock ms of first and last. */
  marks: v.optional(v.record(v.string(), v.object({ first: v.number(), last: v.number(), count: v.number() }))),
});
export type RunPhases = v.InferOutput<typeof RunPhasesSchema>;

/** Union length of possibly overlapping intervals (resolve and unpack can run concurrently). */
export function unionSeconds(intervals: [number, number][]): number {
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let end = -Infinity;
  for (const [s, e] of sorted) {
    if (e <= end) continue;
    total += e - Math.max(s, end);
    end = e;
  }
  return total / 1000;
}

export async function runOne(specPath: string, ctx: CommandContext): Promise<number> {
  const parsed = v.safeParse(RunSpecSchema, JSON.parse(readFileSync(specPath, 'utf8')));
  if (!parsed.success) throw new Error(`${specPath}: ${parsed.issues[0].message} at ${v.getDotPath(parsed.issues[0]) ?? 'spec'}`);
  const spec = parsed.output;
  const host = await ctx.plugins();
  const base = await createLocalWorker(host, ctx.config, ctx.root, spec.snapshotter, ctx.signal);
  phase('worker');
  const pulls: [number, number][] = [];
  const creates: [number, number][] = [];
  const runs: [number, number][] = [];
  const timed = async <T>(into: [number, number][], fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      into.push([t0, performance.now()]);
    }
  };
  const worker: Worker = {
    ...base,
    images: {
      resolve: (r, p, prog) => timed(pulls, () => base.images.resolve(r, p, prog)),
      unpack: (i, p, s) => timed(pulls, () => base.images.unpack(i, p, s)),
      openBlob: (i, d) => base.images.openBlob(i, d),
    },
    executor: {
      async run(req) {
        const t0 = performance.now();
        let started: number | undefined;
        let seen = '';
        const watch = (c: Uint8Array) => {
          if (started !== undefined) return;
          seen = (seen + new TextDecoder().decode(c)).slice(-4096);
          if (seen.includes(RUN_MARKER)) {
            started = performance.now();
            phase('run-marker');
          }
        };
        try {
          return await base.executor.run({ ...req, stderr: (c) => (watch(c), req.stderr?.(c)) });
        } finally {
          const t1 = performance.now();
          creates.push([t0, started ?? t1]);
          if (started !== undefined) runs.push([started, t1]);
        }
      },
    },
  };
  const t0 = performance.now();
  try {
    await runBuild(
      {
        frontend: 'dockerfile.v0',
        opts: {},
        locals: { context: spec.context, dockerfile: spec.context },
        secrets: {},
        outputs: spec.output ? [{ type: 'local', attrs: { dest: spec.output } }] : [],
        noCache: false,
      },
      // Like `edgebuild build`: the build owns its worker (lazy layers record opens only for estargz-optimize).
      { host, worker, progress: new ProgressStream(), hostPlatform: hostPlatform(), compileFilter, signal: ctx.signal, ownsWorker: true },
    );
    phase('build-done');
  } finally {
    await base.close();
    phase('worker-closed');
  }
  const outcomes = (base.images as { outcomes?: { how: string }[] }).outcomes ?? [];
  const phases: RunPhases = {
    pull_s: unionSeconds(pulls),
    create_s: unionSeconds(creates),
    run_s: unionSeconds(runs),
    build_s: (performance.now() - t0) / 1000,
    lazy_layers: outcomes.filter((o) => o.how === 'lazy').length,
    pulled_layers: outcomes.filter((o) => o.how === 'pulled').length,
    marks: phaseMarks(),
  };
  writeFileSync(spec.result, JSON.stringify(phases));
  return 0;
}
