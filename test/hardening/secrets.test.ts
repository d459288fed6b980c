// Secrets: registry credentials and build secrets never show up in output (plain, rawjson, debug,
// errors), the state root (content, snapshots, cache records), exported images (layers
// decompressed, config history) or local exports. Authorization never follows a redirect to
// another host. A config.json with credentials that others can read gets a warning.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { buildImage, skopeoOk } from '../harness/registry-images.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder, type RunResult } from '../harness/edgebuild.ts';
import { removeTempDirs } from '../harness/temp-dir.ts';
import { permissionWarning, readDockerConfig } from '../../plugins/auth-docker-config/index.ts';
import { findInText, findInTree, secretForms } from './secret-scan.ts';

const user = 'eb-user';
const password = `eb-pw-${randomBytes(8).toString('hex')}`;
const wrongPassword = `eb-wrong-${randomBytes(8).toString('hex')}`;
const buildSecret = `eb-build-secret-${randomBytes(8).toString('hex')}`;
const needles = [...secretForms([password, wrongPassword, buildSecret], { user, password }), Buffer.from(`${user}:${wrongPassword}`).toString('base64')];

const work = mkdtempSync(join(tmpdir(), 'eb-secrets-'));
let reg: TestRegistry;

function dockerConfig(name: string, hosts: string[], pw: string, mode = 0o600): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  const auth = Buffer.from(`${user}:${pw}`).toString('base64');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: Object.fromEntries(hosts.map((h) => [h, { auth }])) }));
  chmodSync(join(dir, 'config.json'), mode);
  return dir;
}

beforeAll(async () => {
  reg = await startRegistry({ kind: 'basic', users: { [user]: password } });
}, 60_000);

afterAll(async () => {
  await reg?.stop();
  removeTempDirs();
  rmSync(work, { recursive: true, force: true });
});

describe('credentials files', () => {
  test('a config.json with credentials readable by group or others gets a warning; private or credential-less files do not', () => {
    const dir = dockerConfig('perm', ['127.0.0.1:1'], 'x');
    const path = join(dir, 'config.json');
    const cfg = readDockerConfig(path);
    expect(permissionWarning(path, cfg)).toBeUndefined();
    chmodSync(path, 0o640);
    expect(permissionWarning(path, cfg)).toBe(`warning: ${path} holds registry credentials and is readable by its group (mode 0640): run chmod 600 ${path}`);
    chmodSync(path, 0o644);
    expect(permissionWarning(path, cfg)).toBe(`warning: ${path} holds registry credentials and is readable by everyone (mode 0644): run chmod 600 ${path}`);
    writeFileSync(path, JSON.stringify({ credsStore: 'pass' }));
    expect(permissionWarning(path, readDockerConfig(path))).toBeUndefined();
  });

  test('[slow] edgebuild pull warns about a world-readable config.json on stderr (once), and not about a private one', async () => {
    const img = await buildImage({ layers: [{ 'a.txt': 'a' }] });
    skopeoOk('copy', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`, `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/perm/app:1`);
    const open = dockerConfig('open', [reg.host], password, 0o644);
    const r = await edgebuild(['--root', join(work, 'root-perm'), 'pull', `${reg.host}/perm/app:1`], { env: { DOCKER_CONFIG: open } });
    expect(r.code).toBe(0);
    expect(r.err.split('\n').filter((l) => l.startsWith('warning: ') && l.includes('readable by everyone'))).toHaveLength(1);
    const closed = dockerConfig('closed', [reg.host], password);
    const q = await edgebuild(['--root', join(work, 'root-perm'), 'pull', `${reg.host}/perm/app:1`], { env: { DOCKER_CONFIG: closed } });
    expect(q.code).toBe(0);
    expect(q.err).not.toContain('warning:');
  }, 60_000);
});

describe('registry credentials and build secrets stay secret', () => {
  test('[slow] pull, inspect, copy both ways, a failing pull, a wrong password and a build with secrets leak nothing', async () => {
    const layout = await testImage('debian-base');
    skopeoOk('copy', '--quiet', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`, `oci:${layout}:latest`, `docker://${reg.host}/debian:bookworm`);
    const cfg = dockerConfig('good', [reg.host], password);
    const bad = dockerConfig('bad', [reg.host], wrongPassword);
    const root = join(work, 'root');
    const env = { DOCKER_CONFIG: cfg };
    const outputs: { label: string; r: RunResult }[] = [];
    const run = async (label: string, args: string[], e: Record<string, string> = env) => {
      const r = await edgebuild(['--root', root, '--debug', ...args], { env: e });
      outputs.push({ label, r });
      return r;
    };
    expect((await run('pull', ['pull', `${reg.host}/debian:bookworm`])).code).toBe(0);
    expect((await run('inspect', ['inspect', '--json', `${reg.host}/debian:bookworm`])).code).toBe(0);
    const copied = join(work, 'copied');
    expect((await run('copy out', ['copy', `docker://${reg.host}/debian:bookworm`, `oci:${copied}:x`])).code).toBe(0);
    expect((await run('copy in', ['copy', `oci:${copied}:x`, `docker://${reg.host}/again/debian:1`])).code).toBe(0);
    expect((await run('missing', ['pull', `${reg.host}/nope:1`])).code).not.toBe(0);
    const denied = await run('wrong password', ['pull', `${reg.host}/debian:bookworm`], { DOCKER_CONFIG: bad });
    expect(denied.code).not.toBe(0);
    expect(denied.err).toMatch(/401 unauthorized .*127\.0\.0\.1:\d+ \(check credentials\)/);

    const ctx = join(work, 'ctx');
    mkdirSync(ctx);
    const secretFile = join(work, 'secret.txt');
    writeFileSync(secretFile, buildSecret);
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/debian:bookworm
RUN --mount=type=secret,id=tok cat /run/secrets/tok && wc -c /run/secrets/tok > /count
RUN --mount=type=secret,id=tok,env=TOK echo "token is $TOK" && printf %s "$TOK" | sha256sum > /tok.sha
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo "$TOK" > /tmp/gone; rm /tmp/gone'
`);
    const oci = join(work, 'oci');
    const local = join(work, 'local');
    for (const progress of ['plain', 'rawjson']) {
      const r = await run(`build ${progress}`, ['build', '--progress', progress, '--secret', `id=tok,src=${secretFile}`, '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
        ...(progress === 'plain' ? ['--output', `type=oci,dest=${oci},tar=false`, '--output', `type=local,dest=${local}`, '--output', `type=image,name=${reg.host}/built:1,push=true`] : ['--no-cache'])]);
      if (r.code !== 0) throw new Error(`build failed: ${r.err}`);
    }
    // The RUN did see the secret (so the scan below means something).
    const plain = outputs.find((o) => o.label === 'build plain')!.r;
    expect(plain.err + plain.out).toContain('token is ****');
    expect((await Bun.file(join(local, 'count')).text()).trim()).toBe(`${buildSecret.length} /run/secrets/tok`);
    expect(await mountsUnder(root)).toEqual([]);

    const leaks = [
      ...outputs.flatMap(({ label, r }) => [...findInText(`${label} stdout`, r.out, needles), ...findInText(`${label} stderr`, r.err, needles)]),
      ...findInTree(root, needles),
      ...findInTree(oci, needles),
      ...findInTree(local, needles),
      ...findInTree(copied, needles),
      ...findInTree(reg.storageDir, needles),
    ];
    expect(leaks).toEqual([]);
    // The scanner does find what is there: the credentials file holds the Basic form.
    expect(findInTree(cfg, needles)).toHaveLength(1);
  }, 600_000);
});

describe('Authorization and redirects', () => {
  let proxy: FaultProxy;
  let cdn: ReturnType<typeof Bun.serve>;
  const cdnSaw: { path: string; authorization: string | null }[] = [];

  afterAll(async () => {
    await proxy?.stop();
    cdn?.stop(true);
  });

  test('[slow] blob GETs redirected to another loopback host carry no Authorization; the pull still verifies and succeeds', async () => {
    proxy = await startFaultProxy(reg.host);
    // The "CDN": another port, serving blobs it fetches from the registry with its own access.
    const basic = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    cdn = Bun.serve({
      port: 0,
      hostname: '127.0.0.1',
      async fetch(req) {
        const url = new URL(req.url);
        cdnSaw.push({ path: url.pathname, authorization: req.headers.get('authorization') });
        const res = await fetch(`http://${reg.host}${url.pathname}`, { headers: { authorization: basic }, decompress: false } as RequestInit);
        return new Response(res.body, { status: res.status, headers: { 'content-type': 'application/octet-stream', 'content-length': res.headers.get('content-length') ?? '' } });
      },
    });
    const img = await buildImage({ layers: [{ 'r.txt': `redirect ${randomBytes(4).toString('hex')}` }] });
    skopeoOk('copy', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`, `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/redir/app:1`);
    const rule = proxy.add({ method: 'GET', path: /\/blobs\/sha256:/, fault: { kind: 'redirect', base: `http://127.0.0.1:${cdn.port}` } });
    const cfg = dockerConfig('redir', [proxy.host], password);
    const root = join(work, 'root-redir');
    const r = await edgebuild(['--root', root, 'pull', `${proxy.host}/redir/app:1`], { env: { DOCKER_CONFIG: cfg } });
    if (r.code !== 0) throw new Error(`pull failed: ${r.err}`);
    expect(rule.fired()).toBe(img.manifests[0].layers.length + 1);
    expect(cdnSaw.length).toBe(rule.fired());
    expect(cdnSaw.filter((s) => s.authorization !== null)).toEqual([]);
    // The origin did get credentials (so the absence above is the redirect rule, not no auth).
    expect(proxy.requests.some((q) => typeof q.headers.authorization === 'string')).toBe(true);
    expect([...findInTree(root, needles), ...findInText('stderr', r.err, needles)]).toEqual([]);
  }, 60_000);
});
