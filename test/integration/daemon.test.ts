// `edgebuild daemon` with real clients: concurrent builds on one base share every download,
// rebuilds send only changed files, client-side outputs land on the client, and bad input (no
// permission on the socket, malformed requests, a client that disconnects mid-build, SIGTERM)
// ends cleanly with no mounts or runc containers left.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startCountingProxy, type CountingProxy } from '../harness/counting-proxy.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder, runcContainers } from '../harness/edgebuild.ts';

const repo = join(import.meta.dir, '..', '..');
const DAEMON_MAIN = join(repo, 'test/core/daemon/daemon-main.ts');
const CLI = join(repo, 'cli/main.ts');

let reg: TestRegistry;
let authReg: TestRegistry;
let proxy: CountingProxy;
let work: string;
let root: string;
let sock: string;
let addr: string;
let base: string;
let baseLayer: string;
let daemon: ReturnType<typeof Bun.spawn>;
let daemonLog = '';

async function startDaemon(): Promise<void> {
  daemon = Bun.spawn([process.execPath, DAEMON_MAIN, '--root', root, '--addr', addr, 'daemon', '--oci-worker-snapshotter', 'overlay'], {
    env: { ...process.env, EDGEBUILD_CONFIG: '', DOCKER_CONFIG: join(work, 'daemon-docker') },
    stdout: 'pipe',
    stderr: 'pipe',
  });
  void (async () => {
    for await (const c of daemon.stderr as ReadableStream<Uint8Array>) daemonLog += new TextDecoder().decode(c);
  })();
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(sock)) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${daemonLog}`);
    await Bun.sleep(50);
  }
}

function client(args: string[], opts: { asNobody?: boolean } = {}) {
  const argv = [process.execPath, CLI, '--addr', addr, ...args];
  return Bun.spawn(opts.asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...argv] : argv, {
    cwd: work,
    env: { ...process.env, EDGEBUILD_CONFIG: '', HOME: work, DOCKER_CONFIG: join(work, 'docker') },
    stdout: 'pipe',
    stderr: 'pipe',
  });
}

async function run(args: string[], opts: { asNobody?: boolean } = {}) {
  const p = client(args, opts);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

function context(name: string, dockerfile: string, files: Record<string, string> = {}): string {
  const dir = join(work, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  fs.writeFileSync(join(dir, 'Dockerfile'), dockerfile.replaceAll('BASE', base));
  for (const [f, text] of Object.entries(files)) fs.writeFileSync(join(dir, f), text);
  return dir;
}

async function daemonInfo(): Promise<{ builds: number }> {
  const res = await fetch('http://d/v1/info', { unix: sock } as RequestInit);
  return (await res.json()) as { builds: number };
}

async function waitIdle(ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while ((await daemonInfo()).builds > 0) {
    if (Date.now() > deadline) throw new Error('daemon still has running builds');
    await Bun.sleep(100);
  }
}

beforeAll(async () => {
  const layout = await testImage('debian-base');
  reg = await startRegistry();
  proxy = startCountingProxy(reg.host);
  const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/debian:base`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  const index = JSON.parse(fs.readFileSync(join(layout, 'index.json'), 'utf8'));
  baseLayer = JSON.parse(fs.readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8')).layers[0].digest;
  base = `${proxy.host}/debian:base`;
  work = fs.mkdtempSync(join(tmpdir(), 'eb-daemon-'));
  fs.chmodSync(work, 0o755);
  root = join(work, 'root');
  sock = join(work, 'run', 'edgebuild.sock');
  addr = `unix://${sock}`;
  await startDaemon();
}, 600_000);

afterAll(async () => {
  if (daemon && daemon.exitCode === null) {
    daemon.kill('SIGTERM');
    await Promise.race([daemon.exited, Bun.sleep(30_000)]);
  }
  proxy?.stop();
  await reg?.stop();
  await authReg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('edgebuild daemon [slow]', () => {
  test('socket is mode 0660', () => {
    expect(fs.statSync(sock).mode & 0o777).toBe(0o660);
  });

  test('two concurrent clients on one base: each base blob is fetched once', async () => {
    const a = context('a', 'FROM BASE\nRUN echo a > /a\n');
    const b = context('b', 'FROM BASE\nRUN echo b > /b\n');
    proxy.requests.length = 0;
    const [ra, rb] = await Promise.all([
      run(['build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'out-a')}`, a]),
      run(['build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'out-b')}`, b]),
    ]);
    if (ra.code !== 0 || rb.code !== 0) throw new Error(`builds failed:\n${ra.err}\n${rb.err}\n${daemonLog}`);
    expect(ra.err).toContain('RUN echo a > /a');
    expect(rb.code).toBe(0);
    expect(fs.readFileSync(join(work, 'out-a', 'a'), 'utf8')).toBe('a\n');
    expect(fs.readFileSync(join(work, 'out-b', 'b'), 'utf8')).toBe('b\n');
    expect(fs.existsSync(join(work, 'out-a', 'etc', 'debian_version'))).toBe(true);
    expect(proxy.count('GET', baseLayer)).toBe(1);
    for (const blob of new Set(proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/')).map((r) => r.path))) {
      expect(proxy.count('GET', blob)).toBe(1);
    }
  }, 600_000);

  test('a rebuild sends only the changed file; .dockerignore is applied on the client', async () => {
    const files: Record<string, string> = { '.dockerignore': 'secret.txt\n', 'secret.txt': 'do not send\n' };
    for (let i = 0; i < 5; i++) files[`f${i}.txt`] = `file ${i}\n`;
    const dir = context('sync', 'FROM scratch\nCOPY . /\n', files);
    const first = await run(['build', '--progress', 'plain', '-o', `type=tar,dest=${join(work, 'sync.tar')}`, dir]);
    expect(first.code).toBe(0);
    expect(first.err).toMatch(/\d+ files, sent \d+ /);
    const names = Bun.spawnSync(['tar', '-tf', join(work, 'sync.tar')]).stdout.toString().split('\n').filter(Boolean);
    expect(names).toContain('f3.txt');
    expect(names).not.toContain('secret.txt');
    expect(fs.readdirSync(join(root, 'daemon', 'contexts')).some((s) => fs.existsSync(join(root, 'daemon', 'contexts', s, 'context', 'secret.txt')))).toBe(false);
    fs.writeFileSync(join(dir, 'f2.txt'), 'changed\n');
    const second = await run(['build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'sync-out')}`, dir]);
    expect(second.code).toBe(0);
    expect(second.err).toMatch(/files, sent 1 \(8 bytes\)/);
    expect(fs.readFileSync(join(work, 'sync-out', 'f2.txt'), 'utf8')).toBe('changed\n');
  }, 600_000);

  test('the client\'s registry credentials serve its build only and are never logged [slow]', async () => {
    authReg = await startRegistry({ kind: 'basic', users: { alice: 's3cret-pass' } });
    const layout = await testImage('debian-base');
    const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret-pass', `oci:${layout}:latest`, `docker://${authReg.host}/private/debian:base`], { stderr: 'pipe' });
    if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
    const dir = context('private', `FROM ${authReg.host}/private/debian:base\nRUN cat /etc/debian_version > /v\n`);
    const denied = await run(['build', '--progress', 'plain', dir]);
    expect(denied.code).toBe(1);
    expect(denied.err).toMatch(/401|unauthorized/i);
    fs.mkdirSync(join(work, 'docker'), { recursive: true });
    fs.writeFileSync(join(work, 'docker', 'config.json'), JSON.stringify({ auths: { [authReg.host]: { auth: Buffer.from('alice:s3cret-pass').toString('base64') } } }));
    try {
      const ok = await run(['build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'out-private')}`, dir]);
      if (ok.code !== 0) throw new Error(ok.err);
      expect(fs.existsSync(join(work, 'out-private', 'v'))).toBe(true);
    } finally {
      fs.rmSync(join(work, 'docker'), { recursive: true, force: true });
    }
    // Another build without credentials right after: still refused (nothing carried over).
    const again = await run(['build', '--progress', 'plain', context('private2', `FROM ${authReg.host}/private/debian:base\nRUN true\n`)]);
    expect(again.code).toBe(1);
    expect(again.err).toMatch(/401|unauthorized/i);
    expect(daemonLog).not.toContain('s3cret-pass');
    expect(daemonLog).not.toContain(Buffer.from('alice:s3cret-pass').toString('base64'));
  }, 600_000);

  test('cache exported by a daemon build is CACHED for an in-process build on an empty root', async () => {
    const dir = context('cached', 'FROM BASE\nCOPY n.txt /n.txt\nRUN cat /n.txt > /m\n', { 'n.txt': 'from the daemon\n' });
    const ref = `${proxy.host}/cache/daemon:max`;
    const a = await run(['build', '--progress', 'plain', '--export-cache', `type=registry,ref=${ref},mode=max`, dir]);
    if (a.code !== 0) throw new Error(a.err);
    expect(a.err).toContain(`cache exported to ${ref} (mode=max): 2 steps`);
    const b = await edgebuild(['--root', join(work, 'other-root'), 'build', '--progress', 'plain', '--import-cache', `type=registry,ref=${ref}`, '-o', `type=local,dest=${join(work, 'out-cached')}`, dir]);
    if (b.code !== 0) throw new Error(b.err);
    expect(b.err).toMatch(/RUN cat \/n.txt > \/m\n#\d+ CACHED/);
    expect(fs.readFileSync(join(work, 'out-cached', 'm'), 'utf8')).toBe('from the daemon\n');
    expect(await mountsUnder(join(work, 'other-root'))).toEqual([]);
  }, 600_000);

  test('a client without permission on the socket gets one clear line', async () => {
    const dir = context('nobody', 'FROM scratch\n');
    const r = await run(['build', dir], { asNobody: true });
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toEqual([`edgebuild: cannot connect to the daemon at ${addr}: permission denied (is your user in the socket's group?)`]);
  }, 60_000);

  test('malformed requests get a 400 with one line', async () => {
    const post = (path: string, body: string) => fetch(`http://d${path}`, { unix: sock, method: 'POST', body, headers: { 'content-type': 'application/json' } } as RequestInit);
    const a = await post('/v1/builds', '{"session":');
    expect(a.status).toBe(400);
    expect(await a.text()).toBe('{"error":"build request: body is not valid JSON"}\n');
    const b = await post('/v1/builds', JSON.stringify({ session: 'zz' }));
    expect(b.status).toBe(400);
    expect(((await b.json()) as { error: string }).error).toBe('build request: session: a hex session id');
    const c = await post('/v1/contexts/0123456789abcdef/context/manifest', JSON.stringify({ entries: [{ path: '../etc/passwd', type: 'file', mode: 420, size: 1, mtimeMs: 0, hash: 'a'.repeat(64) }] }));
    expect(c.status).toBe(400);
    expect(((await c.json()) as { error: string }).error).toBe('context context: entry path "../etc/passwd" is not a clean relative path');
  });

  test('a client that disconnects mid-build cancels it: no mounts or runc containers left', async () => {
    const dir = context('slow', 'FROM BASE\nRUN sleep 30\n');
    const p = client(['build', '--progress', 'plain', dir]);
    let err = '';
    const reader = (p.stderr as ReadableStream<Uint8Array>).getReader();
    const deadline = Date.now() + 120_000;
    while (!/RUN sleep 30/.test(err) || runcContainers(root).length === 0) {
      const r = await Promise.race([reader.read(), Bun.sleep(500).then(() => undefined)]);
      if (r?.value) err += new TextDecoder().decode(r.value);
      if (r?.done || Date.now() > deadline) throw new Error(`build never reached RUN sleep: ${err}`);
    }
    const started = Date.now();
    p.kill('SIGKILL');
    await waitIdle();
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(runcContainers(root)).toEqual([]);
    expect(await mountsUnder(root)).toEqual([]);
    expect(daemonLog).toContain('build cancelled: client disconnected');
  }, 180_000);

  test('SIGTERM cancels running builds, removes mounts and the socket', async () => {
    const dir = context('term', 'FROM BASE\nRUN sleep 30\n');
    const p = client(['build', '--progress', 'plain', dir]);
    const deadline = Date.now() + 120_000;
    while (runcContainers(root).length === 0) {
      if (Date.now() > deadline || p.exitCode !== null) throw new Error('build never started its container');
      await Bun.sleep(200);
    }
    daemon.kill('SIGTERM');
    const code = await Promise.race([daemon.exited, Bun.sleep(30_000).then(() => 'timeout')]);
    expect(code).toBe(0);
    const [err, clientCode] = await Promise.all([new Response(p.stderr).text(), p.exited]);
    expect(clientCode).toBe(1);
    expect(err).toContain('build cancelled: daemon is shutting down');
    expect(runcContainers(root)).toEqual([]);
    expect(await mountsUnder(root)).toEqual([]);
    expect(fs.existsSync(sock)).toBe(false);
  }, 180_000);
});
