// `edgebuild daemon --oci-worker-proxy-snapshotter-path` with a real `edgebuild snapshotter serve
// --type stargz` process: a client builds on an eStargz base in a registry that requires htpasswd
// auth, where only the client has credentials. The proxy mounts the base lazily with the client's
// credential (leased by the daemon for each call), the daemon mounts what the proxy returns and
// runs the RUN step; SIGTERM leaves no mounts. Processes are stopped by PID, mounts by path.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startCountingProxy, type CountingProxy } from '../harness/counting-proxy.ts';
import { estargzTestImage } from '../harness/images.ts';
import { edgebuild, mountsUnder, runcContainers } from '../harness/edgebuild.ts';
import { mountPoints, unmountAll } from '../../core/snapshot/mount.ts';
import { ProxySnapshotter } from '../../core/snapshot/proxy-client.ts';

const repo = join(import.meta.dir, '..', '..');
const CLI = join(repo, 'cli/main.ts');
const PASSWORD = 's3cret-proxy-pass';

let reg: TestRegistry;
let counting: CountingProxy;
let work: string;
let proxyRoot: string;
let daemonRoot: string;
let proxySock: string;
let daemonSock: string;
let baseRef: string;
let layer: { digest: string; size: number };
let proxy: ReturnType<typeof Bun.spawn> | undefined;
let daemon: ReturnType<typeof Bun.spawn> | undefined;
const logs = { proxy: '', daemon: '' };

function spawnLogged(which: 'proxy' | 'daemon', argv: string[], env: Record<string, string>) {
  // Like the harness's edgebuild(): the compiled binary with EDGEBUILD_BIN, else from source.
  const p = Bun.spawn([...(process.env.EDGEBUILD_BIN ? [process.env.EDGEBUILD_BIN] : [process.execPath, CLI]), ...argv], { env: { ...process.env, EDGEBUILD_CONFIG: '', ...env }, stdout: 'pipe', stderr: 'pipe' });
  void (async () => {
    for await (const c of p.stderr as ReadableStream<Uint8Array>) logs[which] += new TextDecoder().decode(c);
  })();
  return p;
}

async function waitFor(what: string, p: ReturnType<typeof Bun.spawn>, ok: () => boolean, log: () => string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!ok()) {
    if (p.exitCode !== null || Date.now() > deadline) throw new Error(`${what} did not start (exit ${p.exitCode}): ${log()}`);
    await Bun.sleep(50);
  }
}

async function stop(p: ReturnType<typeof Bun.spawn> | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  p.kill('SIGTERM');
  await Promise.race([p.exited, Bun.sleep(30_000)]);
  if (p.exitCode === null) {
    p.kill('SIGKILL');
    await p.exited;
  }
}

beforeAll(async () => {
  work = fs.mkdtempSync(join(tmpdir(), 'eb-dproxy-'));
  reg = await startRegistry({ kind: 'basic', users: { alice: PASSWORD } });
  counting = startCountingProxy(reg.host);
  const layout = await estargzTestImage('debian-base');
  const manifest = JSON.parse(fs.readFileSync(join(layout, 'blobs', 'sha256', JSON.parse(fs.readFileSync(join(layout, 'index.json'), 'utf8')).manifests[0].digest.slice(7)), 'utf8'));
  expect(manifest.layers[0].annotations?.['containerd.io/snapshot/stargz/toc.digest']).toMatch(/^sha256:/);
  layer = { digest: manifest.layers[0].digest, size: manifest.layers[0].size };
  // Pushed straight to the registry: the counting proxy sees only what the build fetches.
  const p = Bun.spawnSync(['skopeo', '--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `alice:${PASSWORD}`, `oci:${layout}:latest`, `docker://${reg.host}/private/debian:esgz`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  baseRef = `${counting.host}/private/debian:esgz`;

  // One config file for both processes (as buildkitd and its proxy would share one): registry
  // settings and the stargz snapshotter's (no prefetch, no background fetch: only what is read).
  const cfg = join(work, 'edgebuild.toml');
  fs.writeFileSync(cfg, `[registry."${counting.host}"]\nhttp = true\n[plugins."snapshotter.stargz"]\nnoprefetch = true\nno_background_fetch = true\n`);
  // Neither process has credentials; only the client does.
  const noCreds = { DOCKER_CONFIG: join(work, 'no-docker'), HOME: join(work, 'no-home') };
  fs.mkdirSync(join(work, 'client-docker'));
  fs.writeFileSync(join(work, 'client-docker', 'config.json'), JSON.stringify({ auths: { [counting.host]: { auth: Buffer.from(`alice:${PASSWORD}`).toString('base64') } } }), { mode: 0o600 });

  proxyRoot = join(work, 'proxy-root');
  daemonRoot = join(work, 'daemon-root');
  proxySock = join(work, 'snapshotter.sock');
  daemonSock = join(work, 'd.sock');
  proxy = spawnLogged('proxy', ['--root', proxyRoot, '--config', cfg, 'snapshotter', 'serve', '--socket', proxySock, '--type', 'stargz'], noCreds);
  await waitFor('snapshotter serve', proxy, () => logs.proxy.includes('serving snapshotter.stargz'), () => logs.proxy);
  daemon = spawnLogged('daemon', ['--root', daemonRoot, '--config', cfg, '--addr', `unix://${daemonSock}`, 'daemon', `--oci-worker-proxy-snapshotter-path=${proxySock}`], noCreds);
  await waitFor('daemon', daemon, () => logs.daemon.includes(' listening on '), () => logs.daemon);
}, 600_000);

afterAll(async () => {
  await stop(daemon);
  await stop(proxy);
  if (work) for (const m of mountPoints().filter((p) => p.startsWith(`${work}/`)).reverse()) await unmountAll(m).catch(() => {});
  counting?.stop();
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
}, 120_000);

const clientEnv = () => ({ DOCKER_CONFIG: join(work, 'client-docker'), HOME: work });

describe('daemon with a proxy stargz snapshotter [slow]', () => {
  test('two clients build concurrently on a private eStargz base: the proxy mounts it lazily once, with a client\'s credential; no chunk fetched twice [slow]', async () => {
    expect(logs.daemon).toContain(`snapshotter proxy ${proxySock}`);
    const build = async (name: string) => {
      const ctx = join(work, `ctx-${name}`);
      fs.mkdirSync(ctx);
      // Only the RUN's results are exported: a local export of the whole stage would read every file.
      fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM ${baseRef} AS base\nRUN cat /etc/debian_version > /v && ls /usr/bin | wc -l > /n && echo ${name} > /who\nFROM scratch\nCOPY --from=base /v /n /who /\n`);
      const out = join(work, `out-${name}`);
      const r = await edgebuild(['--addr', `unix://${daemonSock}`, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx], { env: clientEnv() });
      if (r.code !== 0) throw new Error(`build ${name} failed:\n${r.err}\n--- daemon:\n${logs.daemon}\n--- proxy:\n${logs.proxy}`);
      expect(fs.readFileSync(join(out, 'v'), 'utf8')).toMatch(/^\d+(\.\d+)?\n$/);
      expect(Number(fs.readFileSync(join(out, 'n'), 'utf8'))).toBeGreaterThan(50);
      expect(fs.readFileSync(join(out, 'who'), 'utf8')).toBe(`${name}\n`);
      return r;
    };
    const [r] = await Promise.all([build('a'), build('b')]);

    // The proxy process mounted the layer lazily (the daemon never pulled it).
    expect(logs.proxy).toContain(`is layer ${layer.digest} of`);
    expect(logs.proxy).toContain('mounted lazily');
    expect(logs.daemon).not.toContain('pulled in full');
    const gets = counting.requests.filter((q) => q.method === 'GET' && q.path.includes(layer.digest) && q.status !== undefined && q.status < 300);
    expect(gets.length).toBeGreaterThan(0);
    expect(gets.filter((q) => !q.range)).toEqual([]);
    expect(new Set(gets.map((q) => q.range)).size).toBe(gets.length); // no range asked twice
    expect(logs.proxy.match(/mounted lazily/g)).toHaveLength(1);
    const fetched = gets.reduce((n, q) => n + q.bytes, 0);
    console.log(`base layer ${layer.digest.slice(0, 19)}: fetched ${fetched} of ${layer.size} bytes (${((100 * fetched) / layer.size).toFixed(1)}%) in ${gets.length} range requests`);
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(layer.size * 0.5);
    // The registry saw the client's credential on the proxy's requests; nobody logged it.
    for (const log of [logs.proxy, logs.daemon, r.err]) {
      expect(log).not.toContain(PASSWORD);
      expect(log).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
    }
  }, 600_000);

  test('a client without credentials is refused, though the layer is mounted [slow]', async () => {
    const ctx = join(work, 'ctx2');
    fs.mkdirSync(ctx);
    fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM ${baseRef}\nRUN true\n`);
    const r = await edgebuild(['--addr', `unix://${daemonSock}`, 'build', '--progress', 'plain', ctx], { env: { DOCKER_CONFIG: join(work, 'no-docker'), HOME: work } });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/401|unauthorized/i);
  }, 300_000);

  test('an in-process build with [worker.oci] proxySnapshotterPath uses the proxy as well [slow]', async () => {
    const ctx = join(work, 'ctx-local');
    fs.mkdirSync(ctx);
    fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM ${baseRef} AS base\nRUN head -c 3 /etc/os-release > /local\nFROM scratch\nCOPY --from=base /local /\n`);
    const cfg = join(work, 'local.toml');
    fs.writeFileSync(cfg, `[worker.oci]\nproxySnapshotterPath = "${proxySock}"\n`);
    const before = counting.requests.length;
    const r = await edgebuild(['--root', join(work, 'local-root'), '--config', cfg, 'build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'out-local')}`, ctx], { env: clientEnv() });
    if (r.code !== 0) throw new Error(`build failed:\n${r.err}\n--- proxy:\n${logs.proxy}`);
    expect(fs.readFileSync(join(work, 'out-local', 'local'), 'utf8')).toBe('PRE');
    // The end-of-build report asks the proxy for the layer's lazy-fetch status.
    expect(r.err).toMatch(new RegExp(`base layer ${layer.digest.slice(0, 19)} \\(.*\\): lazy \\(existing snapshot\\), fetched [1-9][0-9.]*[kKM]B of 30\\.2MB`));
    // The layer the proxy already mounted serves this build too: no blob is downloaded whole.
    expect(counting.requests.slice(before).filter((q) => q.method === 'GET' && q.path.includes('/blobs/') && !q.range && !q.path.includes(layer.digest) && q.bytes > 100_000)).toEqual([]);
    expect(counting.requests.slice(before).filter((q) => q.method === 'GET' && q.path.includes(layer.digest) && !q.range)).toEqual([]);
    expect(await mountsUnder(join(work, 'local-root'))).toEqual([]);
  }, 300_000);

  test('daemon SIGTERM mid-RUN: the build is cancelled, no mounts or containers left on its side, no active snapshots in the proxy; proxy SIGTERM unmounts the lazy layer [slow]', async () => {
    const ctx = join(work, 'ctx3');
    fs.mkdirSync(ctx);
    fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM ${baseRef}\nRUN sleep 60\n`);
    const pending = edgebuild(['--addr', `unix://${daemonSock}`, 'build', '--progress', 'plain', ctx], { env: clientEnv() });
    const deadline = Date.now() + 60_000;
    while (runcContainers(daemonRoot).length === 0) {
      if (Date.now() > deadline) throw new Error(`RUN sleep never started: ${logs.daemon}`);
      await Bun.sleep(100);
    }
    await stop(daemon);
    expect(daemon!.exitCode).toBe(0);
    const cancelled = await pending;
    expect(cancelled.code).not.toBe(0);
    expect(cancelled.err).toMatch(/cancel|shutting down/i);
    expect(await mountsUnder(daemonRoot)).toEqual([]);
    expect(runcContainers(daemonRoot)).toEqual([]);
    expect(fs.readdirSync(join(daemonRoot, 'tmp')).filter((n) => n.startsWith('cred-'))).toEqual([]);
    const client = new ProxySnapshotter(proxySock);
    const kinds: string[] = [];
    try {
      await client.walk((i) => void kinds.push(`${i.kind} ${i.key}`));
    } finally {
      await client.close();
    }
    expect(kinds.filter((k) => !k.startsWith('committed '))).toEqual([]);
    expect(kinds.some((k) => k.startsWith('committed layer/'))).toBe(true);
    // The lazy layer stays mounted in the proxy process while it runs, like containerd-stargz-grpc.
    expect((await mountsUnder(proxyRoot)).length).toBeGreaterThan(0);
    await stop(proxy);
    expect(proxy!.exitCode).toBe(0);
    expect(await mountsUnder(proxyRoot)).toEqual([]);
  }, 120_000);
});
