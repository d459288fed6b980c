// The daemon on TCP with TLS client certificates: a client with a certificate from the CA builds;
// one without a certificate is refused at the handshake, as one line.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/free-port.ts';

const repo = join(import.meta.dir, '..', '..');
let work: string;
let daemon: ReturnType<typeof Bun.spawn>;
let addr: string;
let log = '';

function openssl(args: string[]): void {
  const p = Bun.spawnSync(['openssl', ...args], { cwd: work, stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${p.stderr}`);
}

beforeAll(async () => {
  work = fs.mkdtempSync(join(tmpdir(), 'eb-tls-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=edgebuild test CA']);
  for (const [name, san] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']]) {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    fs.writeFileSync(join(work, `${name}.ext`), san + '\n');
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`]);
  }
  const port = await freePort();
  addr = `tcp://127.0.0.1:${port}`;
  daemon = Bun.spawn([process.execPath, join(repo, 'test/core/daemon/daemon-main.ts'), '--root', join(work, 'root'), '--addr', addr, 'daemon',
    '--tlscert', join(work, 'server.pem'), '--tlskey', join(work, 'server.key'), '--tlscacert', join(work, 'ca.pem'), '--oci-worker-snapshotter', 'native'], {
    env: { ...process.env, EDGEBUILD_CONFIG: '' }, stdout: 'pipe', stderr: 'pipe',
  });
  void (async () => {
    for await (const c of daemon.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  const deadline = Date.now() + 20_000;
  while (!log.includes('listening on')) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${log}`);
    await Bun.sleep(50);
  }
}, 60_000);

afterAll(async () => {
  if (daemon?.exitCode === null) {
    daemon.kill('SIGTERM');
    await daemon.exited;
  }
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

async function build(env: Record<string, string>) {
  const ctx = join(work, 'ctx');
  fs.mkdirSync(ctx, { recursive: true });
  fs.writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY a.txt /\n');
  fs.writeFileSync(join(ctx, 'a.txt'), 'over tls\n');
  const p = Bun.spawn([process.execPath, join(repo, 'cli/main.ts'), '--addr', addr, 'build', '--progress', 'plain', '-o', `type=local,dest=${join(work, 'out')}`, ctx], {
    env: { ...process.env, EDGEBUILD_CONFIG: '', ...env }, stdout: 'pipe', stderr: 'pipe',
  });
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited]);
  return { err, code };
}

describe('daemon over TCP with TLS client certificates [slow]', () => {
  test('a client with a certificate from the CA builds', async () => {
    const r = await build({ EDGEBUILD_TLS_CACERT: join(work, 'ca.pem'), EDGEBUILD_TLS_CERT: join(work, 'client.pem'), EDGEBUILD_TLS_KEY: join(work, 'client.key') });
    if (r.code !== 0) throw new Error(r.err + log);
    expect(fs.readFileSync(join(work, 'out', 'a.txt'), 'utf8')).toBe('over tls\n');
  }, 60_000);

  test('a client without a certificate is refused, as one line', async () => {
    const r = await build({ EDGEBUILD_TLS_CACERT: join(work, 'ca.pem') });
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toStartWith(`edgebuild: cannot connect to the daemon at ${addr}: TLS handshake failed (`);
  }, 60_000);
});
