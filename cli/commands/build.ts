// `edgebuild build`: buildctl's flags (--frontend, --local, --opt, --output) and the docker-style
// short form (-f, -t, --target, --build-arg, -o, CONTEXT). Builds in-process, or on a daemon
// with the global --addr.
import * as fs from 'node:fs';
import { resolve as resolvePath, dirname, basename } from 'node:path';
import type { Command, CommandContext } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags, parseKeyValues } from '../args.ts';
import { runBuild, type BuildRequest, type OutputSpec } from '../../core/build/run.ts';
import { ProgressStream } from '../../core/progress/events.ts';
import { plainRenderer } from '../../core/progress/plain.ts';
import { rawJsonRenderer } from '../../core/progress/rawjson.ts';
import { ttyRenderer } from '../../core/progress/tty.ts';
import { createLocalWorker } from '../../core/worker/local.ts';
import { hostPlatform } from '../../core/image/platform.ts';
import { compileFilter } from '../../plugins/frontend-dockerfile/dockerignore.ts';
import { parseCacheExport, parseCacheImport } from '../../core/cache/spec.ts';
import { DaemonConnection, DaemonError } from '../../core/client/connection.ts';
import { runRemoteBuild } from '../../core/client/remote-build.ts';
import { budgetFromConfig, enforceBudget } from '../../core/gc/usage.ts';
import { formatBytes } from '../../core/progress/plain.ts';

const FLAGS = [
  { name: 'frontend', type: 'string' as const },
  { name: 'local', type: 'list' as const },
  { name: 'opt', type: 'list' as const },
  { name: 'output', short: 'o', type: 'list' as const },
  { name: 'no-cache', type: 'boolean' as const },
  { name: 'progress', type: 'string' as const },
  { name: 'secret', type: 'list' as const },
  { name: 'file', short: 'f', type: 'string' as const },
  { name: 'tag', short: 't', type: 'list' as const },
  { name: 'target', type: 'string' as const },
  { name: 'build-arg', type: 'list' as const },
  { name: 'platform', type: 'string' as const },
  { name: 'snapshotter', type: 'string' as const },
  { name: 'export-cache', type: 'list' as const },
  { name: 'import-cache', type: 'list' as const },
];

export const buildCommand: Command = {
  name: 'build',
  summary: 'Build a Dockerfile (buildctl-compatible flags)',
  help: `Usage: edgebuild build --frontend dockerfile.v0 --local context=DIR --local dockerfile=DIR [flags]
       edgebuild build [-f FILE] [-t NAME] [--target STAGE] [--build-arg K=V] [-o type=…] CONTEXT

buildctl-style flags:
  --frontend dockerfile.v0     the frontend plugin (default dockerfile.v0)
  --local NAME=DIR             a local source: context, dockerfile (repeatable)
  --opt KEY=VALUE              frontend option: filename=, target=, build-arg:K=V, platform=, label:K=V
  --output, -o type=T,k=v      exporter and its attributes (repeatable):
                                 type=local,dest=DIR   type=tar,dest=FILE|-
                                 type=oci,dest=FILE[,tar=false]   type=docker,dest=FILE,name=REF
                                 type=image,name=REF[,push=true][,compression=gzip|zstd|estargz|uncompressed]
                                   [,compression-level=N][,force-compression=true][,oci-mediatypes=true]
  --no-cache                   run every step even when a cached result exists
  --progress auto|tty|plain|rawjson
  --secret id=ID,src=FILE|env=VAR   a secret for RUN --mount=type=secret (never stored or shown)
  --snapshotter overlay|native|stargz   worker snapshotter for this build (config: [worker.oci] snapshotter)
  --export-cache type=registry,ref=REF[,mode=min|max][,compression=gzip|zstd|uncompressed]
                 type=local,dest=DIR[,mode=…]   type=inline (cache metadata in the exported image)
  --import-cache type=registry,ref=REF   type=local,src=DIR   (repeatable; steps found there are CACHED)

Docker-style flags:
  -f, --file FILE              Dockerfile (default CONTEXT/Dockerfile)
  -t, --tag NAME               store the result as image NAME (type=image,name=NAME)
  --target STAGE, --build-arg K=V, --platform OS/ARCH[/VARIANT]`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('build', args, FLAGS);
    const req = buildRequest(flags, positionals);
    const progress = new ProgressStream();
    const mode = (flags.progress as string | undefined) ?? 'auto';
    if (!['auto', 'tty', 'plain', 'rawjson'].includes(mode)) throw new UserError(`build: --progress must be auto, tty, plain or rawjson, got ${JSON.stringify(mode)}`, 2);
    const write = (s: string) => process.stderr.write(s);
    let stopTty: (() => void) | undefined;
    if (mode === 'rawjson') progress.subscribe(rawJsonRenderer(write));
    else if (mode === 'tty' || (mode === 'auto' && ctx.isTTY)) {
      const t = ttyRenderer(write);
      progress.subscribe(t.sink);
      stopTty = t.stop;
    } else progress.subscribe(plainRenderer(write));
    if (ctx.addr) return clientBuild(req, progress, stopTty, ctx, flags.snapshotter !== undefined);
    const host = await ctx.plugins();
    const snapshotter = (flags.snapshotter as string | undefined) ?? ctx.config.worker.oci.snapshotter;
    const worker = await createLocalWorker(host, ctx.config, ctx.root, snapshotter, ctx.signal);
    try {
      const outcome = await runBuild(req, { host, worker, progress, hostPlatform: hostPlatform(), compileFilter, signal: ctx.signal, cache: { client: worker.client, store: worker.store }, ownsWorker: true });
      stopTty?.();
      for (const e of outcome.exports) {
        for (const n of e.notes) ctx.err(n);
        if (e.digest) ctx.err(`exported ${e.type}: ${e.digest}`);
      }
      for (const line of (await worker.report?.()) ?? []) ctx.err(line);
      const budget = budgetFromConfig(ctx.config);
      if (budget) {
        const gc = await enforceBudget(ctx.root, worker.snapshotter, worker.store, budget);
        if (gc.after !== gc.before) ctx.err(`gc: root used ${formatBytes(gc.before)}, now ${formatBytes(gc.after)} ([worker.oci] maxUsedSpace)`);
      }
      return 0;
    } catch (e) {
      stopTty?.();
      throw new UserError(`build failed: ${(e as Error).message}`);
    } finally {
      await worker.close();
    }
  },
};

/** --addr: the daemon builds; progress and client-side outputs come back here. */
async function clientBuild(req: BuildRequest, progress: ProgressStream, stopTty: (() => void) | undefined, ctx: CommandContext, snapshotterFlag: boolean): Promise<number> {
  if (snapshotterFlag) throw new UserError('build: --snapshotter is chosen by the daemon (edgebuild daemon --oci-worker-snapshotter)', 2);
  try {
    const conn = new DaemonConnection(ctx.addr!);
    const outcome = await runRemoteBuild(req, { conn, config: ctx.config, progress, signal: ctx.signal, log: ctx.err });
    stopTty?.();
    for (const e of outcome.exports) {
      for (const n of e.notes) ctx.err(n);
      if (e.digest) ctx.err(`exported ${e.type}: ${e.digest}`);
    }
    return 0;
  } catch (e) {
    stopTty?.();
    if (e instanceof DaemonError && /^cannot connect|^address /.test(e.message)) throw new UserError(e.message);
    throw new UserError(`build failed: ${(e as Error).message}`);
  }
}

function buildRequest(flags: Record<string, unknown>, positionals: string[]): BuildRequest {
  const locals: Record<string, string> = {};
  for (const l of flags.local as string[]) {
    const eq = l.indexOf('=');
    if (eq <= 0) throw new UserError(`build: --local expects NAME=DIR, got ${JSON.stringify(l)}`, 2);
    locals[l.slice(0, eq)] = resolvePath(l.slice(eq + 1));
  }
  const opts: Record<string, string> = {};
  for (const o of flags.opt as string[]) {
    const eq = o.indexOf('=');
    if (eq <= 0) throw new UserError(`build: --opt expects KEY=VALUE, got ${JSON.stringify(o)}`, 2);
    opts[o.slice(0, eq)] = o.slice(eq + 1);
  }
  // Docker-style short form maps onto the same request.
  if (positionals.length > 1) throw new UserError(`build: expected at most one CONTEXT, got ${positionals.join(' ')}`, 2);
  if (positionals[0]) {
    const ctxDir = resolvePath(positionals[0]);
    locals.context ??= ctxDir;
    const file = flags.file as string | undefined;
    locals.dockerfile ??= file ? dirname(resolvePath(file)) : ctxDir;
    if (file) opts.filename ??= basename(file);
  } else if (flags.file) {
    locals.dockerfile ??= dirname(resolvePath(flags.file as string));
    opts.filename ??= basename(flags.file as string);
  }
  if (flags.target) opts.target = flags.target as string;
  if (flags.platform) opts.platform = flags.platform as string;
  for (const a of flags['build-arg'] as string[]) {
    const eq = a.indexOf('=');
    const k = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? process.env[k] : a.slice(eq + 1);
    if (value !== undefined) opts[`build-arg:${k}`] = value;
  }
  if (!locals.context) throw new UserError('build: no build context (give --local context=DIR or a CONTEXT argument)', 2);
  if (!locals.dockerfile) locals.dockerfile = locals.context;
  for (const [name, dir] of Object.entries(locals)) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) throw new UserError(`build: --local ${name}=${dir}: not a directory`, 2);
  }
  const outputs: OutputSpec[] = (flags.output as string[]).map((o) => {
    const kv = parseKeyValues(o, '--output');
    const { type, ...attrs } = kv;
    if (!type) {
      // `-o DIR` is docker's shorthand for type=local,dest=DIR.
      if (Object.keys(kv).length === 0 && o) return { type: 'local', attrs: { dest: o } };
      throw new UserError(`build: --output ${o}: missing type=`, 2);
    }
    return { type, attrs };
  });
  for (const t of flags.tag as string[]) outputs.push({ type: 'image', attrs: { name: t } });
  const secrets: Record<string, Uint8Array> = {};
  for (const s of flags.secret as string[]) {
    const kv = parseKeyValues(s, '--secret');
    if (!kv.id) throw new UserError('build: --secret needs id=', 2);
    if (kv.src ?? kv.source) {
      const src = kv.src ?? kv.source;
      try {
        secrets[kv.id] = new Uint8Array(fs.readFileSync(src));
      } catch {
        throw new UserError(`build: --secret id=${kv.id}: cannot read ${src}`, 2);
      }
    } else if (kv.env) {
      const v = process.env[kv.env];
      if (v === undefined) throw new UserError(`build: --secret id=${kv.id}: environment variable ${kv.env} is not set`, 2);
      secrets[kv.id] = new TextEncoder().encode(v);
    } else if (process.env[kv.id] !== undefined) secrets[kv.id] = new TextEncoder().encode(process.env[kv.id]!);
    else throw new UserError(`build: --secret id=${kv.id}: give src=FILE or env=VAR`, 2);
  }
  const cacheSpec = <T,>(parse: (t: string) => T, t: string): T => {
    try {
      return parse(t);
    } catch (e) {
      throw new UserError(`build: ${(e as Error).message}`, 2);
    }
  };
  const cacheExports = (flags['export-cache'] as string[]).map((t) => cacheSpec(parseCacheExport, t)).map((c) => (c.type === 'local' ? { ...c, dest: resolvePath(c.dest) } : c));
  const cacheImports = (flags['import-cache'] as string[]).map((t) => cacheSpec(parseCacheImport, t)).map((c) => (c.type === 'local' ? { ...c, src: resolvePath(c.src) } : c));
  return { frontend: (flags.frontend as string | undefined) ?? 'dockerfile.v0', opts, locals, secrets, outputs, noCache: Boolean(flags['no-cache']), cacheExports, cacheImports };
}

export type { CommandContext };
