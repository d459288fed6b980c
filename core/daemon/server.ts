// `edgebuild daemon`: one plugin host and one worker serving every build over HTTP on a unix
// socket (mode 0660) and optionally TCP with TLS client certificates. SIGTERM cancels running
// builds, waits for their cleanup, closes plugins (unmounting lazy layers) and removes sockets.
import * as fs from 'node:fs';
import { dirname, join } from 'node:path';
import type { Server } from 'bun';
import type { PluginRegistration } from '../plugin/types.ts';
import type { EdgebuildConfig } from '../config/schema.ts';
import { createLocalWorker } from '../worker/local.ts';
import { budgetFromConfig, enforceBudget } from '../gc/usage.ts';
import { ContextStore } from './context-store.ts';
import { OutputStore } from './outputs.ts';
import { createApi } from './api.ts';
import { hostWithSessionAuth } from './session-auth.ts';
import { isLoopback, parseAddress } from './address.ts';
import type { DaemonState } from './state.ts';

export interface DaemonOptions {
  addrs: string[];
  root: string;
  config: EdgebuildConfig;
  configPath?: string;
  version: string;
  plugins: PluginRegistration<any, any>[];
  snapshotter: string;
  /** Socket of a proxy snapshotter (--oci-worker-proxy-snapshotter-path); replaces `snapshotter`. */
  proxySnapshotterPath?: string;
  tls?: { cert: string; key: string; ca?: string };
  /** Group (name or gid) owning the unix sockets, whose members may build (buildkitd --group). */
  group?: string;
  /** Interval of the periodic GC when [worker.oci] gc = true. */
  gcIntervalMs?: number;
  log: (line: string) => void;
  debug?: boolean;
}

export interface RunningDaemon {
  addrs: string[];
  /** Cancels builds, waits for their cleanup (up to graceMs), closes everything. */
  stop(graceMs?: number): Promise<void>;
}

export async function startDaemon(opts: DaemonOptions): Promise<RunningDaemon> {
  const addrs = opts.addrs.map(parseAddress);
  for (const a of addrs) {
    if (a.kind === 'tcp' && !opts.tls && !isLoopback(a.host)) throw new Error(`address tcp://${a.host}:${a.port}: TCP on a non-loopback host needs --tlscert, --tlskey and --tlscacert`);
  }
  const gcBudget = budgetFromConfig(opts.config);
  const shutdown = new AbortController();
  // Session credentials first: a client's own credentials win over the daemon's for its build.
  const host = await hostWithSessionAuth({ root: opts.root, config: opts.config, configPath: opts.configPath, log: opts.debug ? (m) => opts.log(`debug: ${m}`) : undefined }, opts.plugins);
  const servers: Server<undefined>[] = [];
  const sockets: string[] = [];
  try {
    const worker = await createLocalWorker(host, opts.config, opts.root, opts.snapshotter, shutdown.signal, opts.log, { proxySnapshotterPath: opts.proxySnapshotterPath });
    const daemonDir = join(opts.root, 'daemon');
    const running = new Set<Promise<void>>();
    let gcRunning: Promise<void> | undefined;
    const runGc = async () => {
      if (!gcBudget) return;
      // One GC at a time, and never while a build runs (its snapshots are not all recorded yet).
      if (gcRunning || running.size > 0) return;
      gcRunning = (async () => {
        const r = await enforceBudget(opts.root, worker.snapshotter, worker.store, gcBudget);
        if (r.before !== r.after) opts.log(`gc: root used ${r.before} bytes, now ${r.after} (removed ${r.removed} cache entries)`);
      })().finally(() => (gcRunning = undefined));
      await gcRunning;
    };
    const state: DaemonState = {
      version: opts.version,
      host,
      worker,
      contexts: new ContextStore(join(daemonDir, 'contexts')),
      outputs: new OutputStore(join(daemonDir, 'outputs')),
      shutdown: shutdown.signal,
      afterBuild: async () => {
        // Called from inside the finishing build, so wait until it is untracked.
        await Promise.resolve();
        setTimeout(() => void runGc().catch((e) => opts.log(`gc failed: ${(e as Error).message}`)), 0);
      },
      track: (p) => {
        running.add(p);
        void p.finally(() => running.delete(p));
      },
      running: () => running.size,
      log: opts.log,
    };
    const app = createApi(state);
    for (const a of addrs) {
      if (a.kind === 'unix') {
        fs.mkdirSync(dirname(a.path), { recursive: true, mode: 0o755 });
        if (fs.existsSync(a.path)) {
          if (!fs.lstatSync(a.path).isSocket()) throw new Error(`address unix://${a.path}: exists and is not a socket`);
          if (await socketAlive(a.path)) throw new Error(`address unix://${a.path}: another daemon is listening there`);
          fs.rmSync(a.path);
        }
        const oldMask = process.umask(0o117); // the socket is created 0660, never briefly wider
        try {
          // idleTimeout 0: a build can be silent for long (RUN sleep) while its stream stays open. Bun
          // applies the 10 s default to unix sockets too, though its types omit the option there.
          const unixOpts = { unix: a.path, fetch: app.fetch, idleTimeout: 0, maxRequestBodySize: MAX_UPLOAD };
          servers.push(Bun.serve(unixOpts as unknown as Parameters<typeof Bun.serve>[0]) as Server<undefined>);
        } finally {
          process.umask(oldMask);
        }
        fs.chmodSync(a.path, 0o660);
        if (opts.group !== undefined) fs.chownSync(a.path, process.getuid?.() ?? 0, groupId(opts.group));
        sockets.push(a.path);
      } else {
        const tls = opts.tls
          ? { cert: Bun.file(opts.tls.cert), key: Bun.file(opts.tls.key), ...(opts.tls.ca ? { ca: Bun.file(opts.tls.ca), requestCert: true, rejectUnauthorized: true } : {}) }
          : undefined;
        // idleTimeout 0: a build can be silent for long (RUN sleep) while its stream stays open.
        servers.push(Bun.serve({ hostname: a.host, port: a.port, fetch: app.fetch, idleTimeout: 0, maxRequestBodySize: MAX_UPLOAD, ...(tls ? { tls } : {}) }));
      }
    }
    const timer = gcBudget ? setInterval(() => void runGc().catch((e) => opts.log(`gc failed: ${(e as Error).message}`)), opts.gcIntervalMs ?? 10 * 60_000) : undefined;
    // Unclaimed outputs expire after minutes; context copies of sessions idle for a week go.
    const outputsTimer = setInterval(() => {
      state.outputs.expire();
      const n = state.contexts.prune(7 * 24 * 3600_000);
      if (n) opts.log(`removed the context copies of ${n} idle sessions`);
    }, 60_000);
    if (gcBudget) void runGc().catch((e) => opts.log(`gc failed: ${(e as Error).message}`));
    opts.log(`edgebuild daemon ${opts.version} listening on ${opts.addrs.join(', ')} (snapshotter ${worker.snapshotterId}, root ${opts.root})`);
    return {
      addrs: opts.addrs,
      async stop(graceMs = 30_000) {
        shutdown.abort(new Error('daemon is shutting down'));
        if (timer) clearInterval(timer);
        clearInterval(outputsTimer);
        const all = Promise.allSettled([...running]);
        await Promise.race([all, Bun.sleep(graceMs)]);
        for (const s of servers) s.stop(true);
        for (const p of sockets) fs.rmSync(p, { force: true });
        await gcRunning?.catch(() => {});
        await worker.close();
        await host.close();
      },
    };
  } catch (e) {
    for (const s of servers) s.stop(true);
    for (const p of sockets) fs.rmSync(p, { force: true });
    await host.close();
    throw e;
  }
}

/** Context uploads stream through; Bun's 128 MB default body limit would cap a context. */
const MAX_UPLOAD = 2 ** 40;

/** A group name (from /etc/group) or numeric gid. */
export function groupId(group: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(group)) return Number(group);
  for (const line of fs.readFileSync(groupFile, 'utf8').split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === group && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new Error(`--group ${group}: no such group in ${groupFile}`);
}

async function socketAlive(path: string): Promise<boolean> {
  try {
    const res = await fetch('http://daemon/v1/info', { unix: path, signal: AbortSignal.timeout(1000) } as RequestInit);
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}
