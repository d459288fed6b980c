// containerd (Debian's package) using edgebuild's snapshotter through [proxy_plugins]: ctr pulls
// an image into it and runs a container on its mounts. containerd gets its own root, state and
// socket under a temp dir; every process and mount is cleaned up by PID / path.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DirSnapshotter } from '../../core/layer/dir-snapshotter.ts';
import { overlayDriver } from '../../plugins/snapshotter-overlay/driver.ts';
import { overlayProblem } from '../../plugins/snapshotter-overlay/check.ts';
import { serveSnapshotter } from '../../core/snapshot/proxy-server.ts';
import { mountPoints, unmountAll } from '../../core/snapshot/mount.ts';
import type { GrpcServer } from '../../core/grpc/server.ts';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { skopeoOk } from '../harness/registry-images.ts';
import { testImage } from '../harness/images.ts';
import { StargzSnapshotter } from '../../plugins/snapshotter-stargz/snapshotter.ts';
import { defaultStargzConfig } from '../../plugins/snapshotter-stargz/config.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { blobSize } from '../../core/snapshot/blob-size.ts';
import { ProxySnapshotter } from '../../core/snapshot/proxy-client.ts';
import { withMounts } from '../../core/snapshot/mount.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { snapshotterCommand } from '../../cli/commands/snapshotter.ts';
import type { CommandContext } from '../../cli/command.ts';
import { loadConfig } from '../../core/config/load.ts';
import { PluginHost } from '../../core/plugin/host.ts';
import { builtinPlugins } from '../../plugins/builtin.ts';

const haveContainerd = existsSync('/usr/bin/containerd') && existsSync('/usr/bin/ctr');
const problem = haveContainerd ? await overlayProblem(join(tmpdir(), 'eb-overlay-probe')) : 'containerd is not installed';
const stargzProblem = problem ?? (!existsSync('/dev/fuse') ? 'no /dev/fuse' : !existsSync('/usr/bin/ctr-remote') ? 'ctr-remote (Debian stargz-snapshotter) is not installed' : undefined);

let dir: string;
let registry: TestRegistry | undefined;
let server: GrpcServer | undefined;
let backend: DirSnapshotter;
let stargzServer: GrpcServer | undefined;
let stargz: StargzSnapshotter | undefined;
let containerd: ReturnType<typeof Bun.spawn> | undefined;
let address: string;
const serverLog: string[] = [];

async function ctr(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(['ctr', '-a', address, ...args], { stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => p.kill(), 240_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

/** PIDs of processes (containerd shims) whose command line names our temp dir. */
function processesUnder(path: string): number[] {
  const pids: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(path)) pids.push(Number(d));
    } catch {}
  }
  return pids.filter((p) => p !== process.pid);
}

/** Polls our snapshot kinds until `ok` holds or the time is up; returns the last list. */
async function backendKindsWithin(ms: number, ok: (kinds: string[]) => boolean): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const kinds: string[] = [];
    await backend.walk((i) => void kinds.push(i.kind));
    if (ok(kinds) || Date.now() > deadline) return kinds;
    await Bun.sleep(200);
  }
}

async function startContainerd(): Promise<void> {
  address = join(dir, 'containerd.sock');
  const config = `version = 2
root = "${join(dir, 'root')}"
state = "${join(dir, 'state')}"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "${address}"
[ttrpc]
  address = "${address}.ttrpc"
[debug]
  address = "${address}.debug"
[proxy_plugins.edgebuild]
  type = "snapshot"
  address = "${server!.socketPath}"
${stargzServer ? `[proxy_plugins.edgebuild-stargz]\n  type = "snapshot"\n  address = "${stargzServer.socketPath}"\n` : ''}[proxy_plugins.edgebuild-cli]
  type = "snapshot"
  address = "${join(dir, 'cli.sock')}"
`;
  writeFileSync(join(dir, 'config.toml'), config);
  containerd = Bun.spawn(['containerd', '--config', join(dir, 'config.toml'), '--log-level', 'warn'], { stdout: 'ignore', stderr: Bun.file(join(dir, 'containerd.log')) });
  for (let i = 0; i < 100 && !existsSync(address); i++) await Bun.sleep(100);
  if (!existsSync(address)) throw new Error(`containerd did not start: ${readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-2000)}`);
}

beforeAll(async () => {
  if (problem) return;
  dir = mkdtempSync(join(tmpdir(), 'eb-ctrd-'));
  backend = new DirSnapshotter(join(dir, 'edgebuild'), overlayDriver());
  server = await serveSnapshotter(backend, join(dir, 'edgebuild.sock'), { name: 'snapshotter.overlay', log: (m) => serverLog.push(m) });
  registry = await startRegistry();
  if (!stargzProblem) {
    // Background fetch and prefetch off, so that what is fetched is only what the container reads.
    stargz = new StargzSnapshotter({ root: join(dir, 'stargz'), config: defaultStargzConfig({ noprefetch: true, no_background_fetch: true }), log: (m) => serverLog.push(m) });
    const client = new RegistryClient({});
    stargzServer = await serveSnapshotter(stargz, join(dir, 'stargz.sock'), {
      name: 'snapshotter.stargz',
      blobSize: (src) => blobSize(client, src),
      log: (m) => serverLog.push(m),
    });
  }
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${await testImage('debian-base')}`, `docker://${registry.host}/debian:base`);
  await startContainerd();
}, 300_000);

afterAll(async () => {
  if (problem) return;
  containerd?.kill('SIGTERM');
  await Promise.race([containerd?.exited, Bun.sleep(5000)]);
  for (const pid of processesUnder(dir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  for (const m of mountPoints().filter((p) => p.startsWith(`${dir}/`)).reverse()) await unmountAll(m).catch(() => {});
  await server?.close();
  await stargzServer?.close();
  await stargz?.close();
  await backend?.close();
  await registry?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe.skipIf(problem !== undefined)('containerd through the proxy snapshotter', () => {
  test('ctr pulls into edgebuild\'s overlay snapshotter and runs a container on it [slow]', async () => {
    const ref = `${registry!.host}/debian:base`;
    const pull = await ctr('images', 'pull', '--plain-http', '--snapshotter', 'edgebuild', ref);
    expect(pull.err + pull.out).not.toContain('ctr: ');
    expect(pull.code).toBe(0);
    // The layers are snapshots of ours, committed under containerd's chain IDs.
    const keys: string[] = [];
    await backend.walk((i) => void keys.push(`${i.kind} ${i.key}`));
    expect(keys.some((k) => /^committed default\/\d+\/sha256:[0-9a-f]{64}$/.test(k))).toBe(true);
    const ls = await ctr('snapshots', '--snapshotter', 'edgebuild', 'ls');
    expect(ls.code).toBe(0);
    expect(ls.out).toContain('Committed');

    const run = await ctr('run', '--rm', '--snapshotter', 'edgebuild', ref, `eb-${process.pid}`, 'sh', '-c', 'echo hi; cat /etc/debian_version');
    if (run.code !== 0) console.error(run.err, serverLog.join('\n'), readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-3000));
    expect(run.code).toBe(0);
    expect(run.out.split('\n')[0]).toBe('hi');
    // containerd removes backend snapshots in its garbage collection, through our Remove: the
    // container's active snapshot goes soon after the run, the layers after the image.
    expect(await backendKindsWithin(10_000, (kinds) => !kinds.includes('active'))).not.toContain('active');
    const rm = await ctr('images', 'rm', '--sync', ref);
    expect(rm.code).toBe(0);
    expect(await backendKindsWithin(10_000, (kinds) => kinds.length === 0)).toEqual([]);
  }, 300_000);
});

describe.skipIf(stargzProblem !== undefined)('containerd lazily pulls eStargz through the proxy stargz snapshotter', () => {
  test('ctr-remote rpull mounts layers remotely; the container runs; bytes fetched < layer size [slow]', async () => {
    const src = `${registry!.host}/debian:base`;
    const ref = `${registry!.host}/debian:esgz`;
    // The eStargz image comes from stargz-snapshotter's own converter (ctr-remote), pushed back.
    for (const step of [
      () => ctr('images', 'pull', '--plain-http', '--snapshotter', 'edgebuild', src),
      () => ctr_remote('image', 'convert', '--estargz', '--oci', '--estargz-compression-level', '1', src, ref),
      () => ctr('images', 'push', '--plain-http', ref),
      () => ctr('images', 'rm', '--sync', src, ref),
    ]) {
      const r = await step();
      if (r.code !== 0) console.error(r.err);
      expect(r.code).toBe(0);
    }

    const t0 = performance.now();
    const pull = await ctr_remote('image', 'rpull', '--plain-http', '--snapshotter', 'edgebuild-stargz', ref);
    const pullMs = performance.now() - t0;
    if (pull.code !== 0) console.error(pull.err, serverLog.join('\n'));
    expect(pull.code).toBe(0);
    const status = stargz!.remoteStatus();
    expect(status.length).toBeGreaterThan(0);
    const lazy: string[] = [];
    await stargz!.walk((i) => void (i.labels['containerd.io/snapshot/remote'] === 'true' && lazy.push(i.key)));
    expect(lazy.length).toBe(status.length);

    const run = await ctr('run', '--rm', '--snapshotter', 'edgebuild-stargz', ref, `eb-esgz-${process.pid}`, 'sh', '-c', 'echo hi; cat /etc/debian_version');
    if (run.code !== 0) console.error(run.err, serverLog.join('\n'), readFileSync(join(dir, 'containerd.log'), 'utf8').slice(-3000));
    expect(run.code).toBe(0);
    expect(run.out.split('\n')[0]).toBe('hi');
    const after = stargz!.remoteStatus();
    const fetched = after.reduce((n, l) => n + l.fetched, 0);
    const size = after.reduce((n, l) => n + l.size, 0);
    console.error(`containerd rpull through the proxy: ${after.length} lazy layer(s), pull ${pullMs.toFixed(0)} ms, fetched ${fetched} of ${size} bytes after running sh`);
    expect(fetched).toBeGreaterThan(0);
    expect(fetched).toBeLessThan(size);

    const rm = await ctr('images', 'rm', '--sync', ref);
    expect(rm.code).toBe(0);
  }, 600_000);

  test('edgebuild\'s proxy client: prepareRemote mounts the eStargz layer lazily, a view reads it [slow]', async () => {
    const ref = parseReference(`${registry!.host}/debian:esgz`);
    const client = new RegistryClient({});
    const manifest = JSON.parse(new TextDecoder().decode((await client.getManifest(ref)).bytes)) as { layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[] };
    const layer = manifest.layers[0];
    expect(layer.annotations?.['containerd.io/snapshot/stargz/toc.digest']).toMatch(/^sha256:/);
    const proxy = new ProxySnapshotter(stargzServer!.socketPath, { mountDir: dir });
    try {
      const r = await proxy.prepareRemote('eb-chain-1', undefined, { imageRef: `${ref.registry}/${ref.repository}:esgz`, registry: ref.registry, repository: ref.repository, descriptor: layer });
      expect(r).toEqual({ lazy: true });
      expect((await proxy.stat('eb-chain-1'))?.kind).toBe('committed');
      const text = await withMounts(await proxy.view('eb-view', 'eb-chain-1'), async (d) => readFileSync(join(d, 'etc/debian_version'), 'utf8'), dir);
      expect(text.trim()).toMatch(/^\d+/);
      const st = (await proxy.refreshRemoteStatus()).find((l) => l.digest === layer.digest);
      expect(st!.fetched).toBeLessThan(layer.size);
      // An ordinary layer (no TOC) is refused with the reason, and nothing is left behind.
      const plain = await proxy.prepareRemote('eb-chain-plain', undefined, { imageRef: 'x', registry: ref.registry, repository: ref.repository, descriptor: { ...layer, annotations: {} } });
      expect(plain.lazy).toBe(false);
      expect((plain as { reason: string }).reason).toContain('not eStargz');
      await proxy.remove('eb-view');
      await proxy.remove('eb-chain-1');
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe.skipIf(stargzProblem !== undefined)('`edgebuild snapshotter serve --type stargz` with credentials from the shared config', () => {
  // Uses debian:esgz pushed by the test above (tests in a file run in order).
  test('a registry that needs a login: containerd lazily pulls through the command, which logs in with the auth plugin [slow]', async () => {
    const authReg = await startRegistry({ kind: 'basic', users: { edge: 's3cret' } });
    const abort = new AbortController();
    let served: Promise<number> | undefined;
    try {
      skopeoOk('copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--dest-creds', 'edge:s3cret', `docker://${registry!.host}/debian:esgz`, `docker://${authReg.host}/debian:esgz`);
      const dockerConfig = join(dir, 'docker-config.json');
      writeFileSync(dockerConfig, JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from('edge:s3cret').toString('base64') } } }), { mode: 0o600 });
      const configFile = join(dir, 'edgebuild.toml');
      writeFileSync(configFile, `[plugins."auth.docker-config"]\npath = "${dockerConfig}"\n[plugins."snapshotter.stargz"]\nnoprefetch = true\nno_background_fetch = true\n`);
      const lines: string[] = [];
      const ctx = commandContext(join(dir, 'cli-root'), configFile, abort, lines);
      served = snapshotterCommand.run(['serve', '--socket', join(dir, 'cli.sock'), '--type', 'stargz'], ctx);
      for (let i = 0; i < 200 && !lines.some((l) => l.includes('serving')); i++) await Bun.sleep(50);
      expect(lines.join('\n')).toContain('serving snapshotter.stargz');

      const ref = `${authReg.host}/debian:esgz`;
      let pull = await ctr_remote('image', 'rpull', '--plain-http', '--user', 'edge:s3cret', '--snapshotter', 'edgebuild-cli', ref);
      // containerd dialed this proxy's socket at its own start, before the command served it, and
      // its gRPC channel may still be in backoff: a dial timeout is retried once after it settles.
      if (pull.code !== 0 && /Error while dialing/.test(pull.err)) {
        await Bun.sleep(3000);
        pull = await ctr_remote('image', 'rpull', '--plain-http', '--user', 'edge:s3cret', '--snapshotter', 'edgebuild-cli', ref);
      }
      if (pull.code !== 0) console.error(pull.err, lines.join('\n'));
      expect(pull.code).toBe(0);
      const run = await ctr('run', '--rm', '--snapshotter', 'edgebuild-cli', ref, `eb-cli-${process.pid}`, 'cat', '/etc/debian_version');
      if (run.code !== 0) console.error(run.err, lines.join('\n'));
      expect(run.code).toBe(0);
      expect(run.out.trim()).toMatch(/^\d+/);
      const proxy = new ProxySnapshotter(join(dir, 'cli.sock'));
      const status = await proxy.refreshRemoteStatus();
      await proxy.close();
      expect(status.length).toBeGreaterThan(0);
      expect(status.every((l) => !l.lastError)).toBe(true);
      expect(status.reduce((n, l) => n + l.fetched, 0)).toBeLessThan(status.reduce((n, l) => n + l.size, 0));
      expect((await ctr('images', 'rm', '--sync', ref)).code).toBe(0);
    } finally {
      abort.abort();
      if (served) expect(await served).toBe(0);
      await authReg.stop();
    }
  }, 300_000);
});

/** What cli/main.ts builds for a command: config from the file, plugins from the built-ins. */
function commandContext(root: string, configPath: string, abort: AbortController, lines: string[]): CommandContext {
  const { config } = loadConfig(configPath);
  let host: PluginHost | undefined;
  return {
    root,
    config,
    configPath,
    debug: false,
    isTTY: false,
    signal: abort.signal,
    out: (l) => void lines.push(l),
    err: (l) => void lines.push(l),
    plugins: async () => {
      if (!host) {
        host = new PluginHost({ root, config, configPath, log: (m) => lines.push(m) });
        for (const r of builtinPlugins) host.register(r);
        await host.init();
      }
      return host;
    },
  };
}

async function ctr_remote(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn(['ctr-remote', '-a', address, ...args], { stdout: 'pipe', stderr: 'pipe' });
  const timer = setTimeout(() => p.kill(), 240_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, out, err };
}
