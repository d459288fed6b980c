// Runs one ExecRequest with runc: mounts the rootfs and extra mounts into a bundle dir, writes
// config.json, `runc run`s it in the foreground, and always cleans up (container, mounts, bundle).
import { chownSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join, posix } from 'node:path';
import type { ExecRequest, ExecResult, Executor } from '../../core/executor/types.ts';
import { resolveInRoot } from '../../core/layer/securejoin.ts';
import { mountAll, mountPoints, unmountAll } from '../../core/snapshot/mount.ts';
import { runcDelete, runcErrors, runcKill, runcList, type RuncCli } from './runc.ts';
import { buildSpec, type OciMount } from './spec.ts';
import { ownerAlive, writeOwner } from './owner.ts';
import { recordStubs, removeStubs } from './stubs.ts';
import { resolveUser } from './user.ts';
import { phase } from '../../core/progress/phases.ts';

export interface RuncExecutorOptions {
  runc: string;
  /** The plugin's own dir: runc state in state/, bundles in bundles/. */
  root: string;
  defaultHostname?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function hostsFile(hostname: string, hostNetwork: boolean): string {
  const base = `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`;
  if (!hostNetwork || !existsSync('/etc/hosts')) return base;
  return `${base}${readFileSync('/etc/hosts', 'utf8')}`;
}

function resolvConf(): string {
  return existsSync('/etc/resolv.conf') ? readFileSync('/etc/resolv.conf', 'utf8') : '';
}

async function pump(stream: ReadableStream<Uint8Array>, sink?: (chunk: Uint8Array) => void): Promise<void> {
  for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) sink?.(chunk);
}

export class RuncExecutor implements Executor {
  readonly cli: RuncCli;
  readonly bundlesDir: string;

  constructor(private readonly opts: RuncExecutorOptions) {
    this.cli = { binary: opts.runc, stateDir: join(opts.root, 'state') };
    this.bundlesDir = join(opts.root, 'bundles');
    mkdirSync(this.cli.stateDir, { recursive: true, mode: 0o700 });
    mkdirSync(this.bundlesDir, { recursive: true, mode: 0o700 });
  }

  async run(req: ExecRequest): Promise<ExecResult> {
    req.signal?.throwIfAborted();
    phase('exec-start');
    const root = req.mounts[0];
    if (!root || root.destination !== '/') throw new Error('exec: the first mount must be the rootfs ("/")');
    if (req.args.length === 0) throw new Error('exec: no command given');
    const id = `eb-${randomBytes(8).toString('hex')}`;
    const bundle = join(this.bundlesDir, id);
    const rootfs = join(bundle, 'rootfs');
    mkdirSync(bundle, { mode: 0o700 });
    writeOwner(bundle);
    let stubs: ReturnType<typeof recordStubs> = [];
    let failed = false;
    try {
      await mountAll(root.mounts, rootfs);
      // /etc/passwd and /etc/group may come over the network (lazy base image): read while the
      // rest of the bundle is set up.
      const userLookup = resolveUser(rootfs, req.user);
      userLookup.catch(() => {});
      // WORKDIR is absolute inside the container; a relative one counts from "/".
      const cwd = posix.join('/', req.cwd || '/');
      if (!root.readonly) mkdirSync(resolveInRoot(rootfs, cwd, true), { recursive: true, mode: 0o755 });
      const hostname = req.hostname ?? this.opts.defaultHostname ?? 'edgebuild';
      const mounts = await this.prepareMounts(req, bundle, hostname);
      const user = await userLookup;
      stubs = recordStubs(rootfs, [...mounts.map((m) => m.destination), ...(req.tmpfs ?? []).map((t) => t.destination)]);
      const spec = buildSpec({ req: { ...req, cwd }, user, rootfs, readonlyRoot: !!root.readonly, hostname, mounts });
      writeFileSync(join(bundle, 'config.json'), JSON.stringify(spec, null, 1));
      return { exitCode: await this.runContainer(id, bundle, req) };
    } catch (e) {
      failed = true;
      throw e;
    } finally {
      // A cleanup failure must not hide the error that got us here.
      await this.cleanup(id, bundle, stubs).catch((e) => {
        if (!failed) throw e;
      });
      phase('exec-done');
    }
  }

  /** resolv.conf, hosts, extra mounts and secrets as bind mounts for the spec. */
  private async prepareMounts(req: ExecRequest, bundle: string, hostname: string): Promise<OciMount[]> {
    const out: OciMount[] = [];
    const hostNet = req.network !== 'none';
    writeFileSync(join(bundle, 'resolv.conf'), resolvConf(), { mode: 0o644 });
    writeFileSync(join(bundle, 'hosts'), hostsFile(hostname, hostNet), { mode: 0o644 });
    out.push({ destination: '/etc/resolv.conf', type: 'bind', source: join(bundle, 'resolv.conf'), options: ['rbind', 'ro'] });
    out.push({ destination: '/etc/hosts', type: 'bind', source: join(bundle, 'hosts'), options: ['rbind', 'ro'] });

    for (const [i, m] of req.mounts.slice(1).entries()) {
      const ro = m.readonly ? ['ro'] : [];
      const only = m.mounts.length === 1 ? m.mounts[0] : undefined;
      if (only?.type === 'bind') {
        // A plain bind (maybe of a file) goes straight into the spec.
        const opts = only.options.filter((o) => o !== 'bind' && o !== 'rbind' && o !== 'rw');
        out.push({ destination: m.destination, type: 'bind', source: only.source, options: ['rbind', ...opts, ...ro] });
        continue;
      }
      const target = join(bundle, 'mnt', String(i));
      await mountAll(m.mounts, target);
      out.push({ destination: m.destination, type: 'bind', source: target, options: ['rbind', ...ro] });
    }

    if (req.secrets?.length) {
      // Secrets live only in memory (a tmpfs of the bundle's) and are bound read-only.
      const dir = join(bundle, 'secrets');
      const size = req.secrets.reduce((n, s) => n + s.data.length + 4096, 4096);
      await mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', 'mode=0700', `size=${size}`] }], dir);
      for (const [i, s] of req.secrets.entries()) {
        const file = join(dir, `secret-${i}`);
        writeFileSync(file, s.data, { mode: s.mode ?? 0o400 });
        chownSync(file, s.uid ?? 0, s.gid ?? 0);
        out.push({ destination: s.destination, type: 'bind', source: file, options: ['rbind', 'ro', 'nosuid', 'nodev', 'noexec'] });
      }
    }
    return out;
  }

  private async runContainer(id: string, bundle: string, req: ExecRequest): Promise<number> {
    const log = join(bundle, 'runc.log');
    phase('runc-spawn');
    const proc = Bun.spawn([this.cli.binary, '--root', this.cli.stateDir, '--log', log, '--log-format', 'json', 'run', '--bundle', bundle, id], {
      stdin: 'ignore',
      stdout: 'pipe',
      stderr: 'pipe',
    });
    let aborted = false;
    const onAbort = async () => {
      aborted = true;
      // The container may not exist yet: keep killing until runc returns.
      let exited = false;
      proc.exited.then(() => (exited = true));
      for (let tries = 0; !exited; tries++) {
        await runcKill(this.cli, id);
        // runc stuck before the container exists: stop runc itself (our own child).
        if (tries === 50) proc.kill('SIGKILL');
        await Promise.race([proc.exited, sleep(100)]);
      }
    };
    req.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const [code] = await Promise.all([proc.exited, pump(proc.stdout, req.stdout), pump(proc.stderr, req.stderr)]);
      phase('runc-exited');
      if (aborted) throw req.signal?.reason ?? new Error('exec aborted');
      if (code !== 0) {
        const errors = existsSync(log) ? runcErrors(readFileSync(log, 'utf8')) : [];
        if (errors.length) throw new Error(`runc: ${errors[errors.length - 1]}`);
      }
      return code;
    } finally {
      req.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async cleanup(id: string, bundle: string, stubs: ReturnType<typeof recordStubs>): Promise<void> {
    // `runc run` deletes its container when it exits; a container still in runc's state dir
    // (runc killed, failed half-way, never started) is deleted here.
    if (existsSync(join(this.cli.stateDir, id))) await runcDelete(this.cli, id);
    removeStubs(stubs);
    await unmountAll(bundle);
    // Never rm -rf through a mount that is still there: it would delete the snapshot's files.
    const left = mountPoints().filter((p) => p === bundle || p.startsWith(`${bundle}/`));
    if (left.length) throw new Error(`exec ${id}: ${left[0]} is still mounted; left ${bundle} in place`);
    rmSync(bundle, { recursive: true, force: true });
  }

  /** After a crash: kills and deletes the containers under our runc root, unmounts and removes
   *  the bundles, except those of a process that is still running (another edgebuild sharing
   *  this root). Returns the ids it cleaned. */
  async cleanupStale(): Promise<string[]> {
    const ids = new Set<string>();
    const live = (id: string) => ownerAlive(join(this.bundlesDir, id));
    // runc keeps a dir per container under its state dir: none there, nothing to ask runc about.
    const containers = readdirSync(this.cli.stateDir).length ? await runcList(this.cli) : [];
    for (const c of containers) {
      if (live(c.id)) continue;
      await runcKill(this.cli, c.id);
      if (!(await runcDelete(this.cli, c.id))) throw new Error(`runc --root ${this.cli.stateDir}: cannot delete stale container ${c.id}`);
      ids.add(c.id);
    }
    for (const name of readdirSync(this.bundlesDir)) {
      const bundle = join(this.bundlesDir, name);
      if (!statSync(bundle).isDirectory() || live(name)) continue;
      await this.cleanup(name, bundle, []);
      ids.add(name);
    }
    return [...ids].sort();
  }
}
