// Starts Debian's distribution registry (/usr/bin/docker-registry) on a free loopback port with
// filesystem storage in a temp dir: open, htpasswd Basic auth, or Bearer tokens from our server.
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.ts';
import { makeSigningCert, startTokenServer, type TokenServer } from './token-server.ts';

export interface TestRegistry {
  /** "127.0.0.1:PORT" as written in references. */
  host: string;
  url: string;
  storageDir: string;
  dir: string;
  token?: TokenServer;
  /** PEM of the self-signed certificate when started with tls. */
  tlsCert?: string;
  /** The registry's log so far (for debugging failures). */
  log(): string;
  stop(): Promise<void>;
}

export type RegistryAuth = { kind: 'none' } | { kind: 'basic'; users: Record<string, string> } | { kind: 'token'; users: Record<string, string>; ttl?: number };

function htpasswdLine(user: string, password: string): string {
  const p = Bun.spawnSync(['htpasswd', '-Bbn', user, password], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`htpasswd failed: ${p.stderr.toString()}`);
  return p.stdout.toString().trim();
}

/** Self-signed certificate for 127.0.0.1 (SAN IP), for TLS registries. */
function makeServerCert(dir: string): { key: string; cert: string } {
  const key = join(dir, 'tls-key.pem');
  const cert = join(dir, 'tls-cert.pem');
  const p = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`openssl req failed: ${p.stderr.toString()}`);
  return { key, cert };
}

export async function startRegistry(auth: RegistryAuth = { kind: 'none' }, opts: { tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'eb-registry-'));
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  let authYaml = '';
  let token: TokenServer | undefined;
  if (auth.kind === 'basic') {
    const file = join(dir, 'htpasswd');
    writeFileSync(file, Object.entries(auth.users).map(([u, p]) => htpasswdLine(u, p)).join('\n') + '\n');
    authYaml = `auth:\n  htpasswd:\n    realm: edgebuild-test\n    path: ${file}\n`;
  } else if (auth.kind === 'token') {
    const { key, cert } = await makeSigningCert(dir);
    token = startTokenServer({ dir, key, cert, issuer: 'edgebuild-test-issuer', service: 'edgebuild-test-registry', users: auth.users, ttl: auth.ttl });
    authYaml = `auth:\n  token:\n    realm: ${token.url}/token\n    service: edgebuild-test-registry\n    issuer: edgebuild-test-issuer\n    rootcertbundle: ${cert}\n`;
  }
  let tlsYaml = '';
  let tlsCert: string | undefined;
  if (opts.tls) {
    const { key, cert } = makeServerCert(dir);
    tlsCert = cert;
    tlsYaml = `  tls:\n    certificate: ${cert}\n    key: ${key}\n`;
  }
  const config = `version: 0.1
log:
  level: info
  formatter: text
storage:
  filesystem:
    rootdirectory: ${storageDir}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${host}
  secret: edgebuild-test-secret
${tlsYaml}${authYaml}`;
  const configPath = join(dir, 'config.yml');
  writeFileSync(configPath, config);
  const logPath = join(dir, 'registry.log');
  const proc = Bun.spawn(['/usr/bin/docker-registry', 'serve', configPath], { stdout: Bun.file(logPath), stderr: Bun.file(logPath), env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' } });
  const log = () => {
    try {
      return readFileSync(logPath, 'utf8');
    } catch {
      return '';
    }
  };
  const stop = async () => {
    proc.kill('SIGTERM');
    await Promise.race([proc.exited, Bun.sleep(3000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    token?.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) {
      const text = log();
      await stop();
      throw new Error(`docker-registry exited (${proc.exitCode}): ${text.slice(-2000)}`);
    }
    try {
      const res = await fetch(`${opts.tls ? 'https' : 'http'}://${host}/v2/`, { tls: { rejectUnauthorized: false } } as RequestInit);
      await res.body?.cancel();
      if (res.status === 200 || res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry on ${host} did not become ready: ${log().slice(-2000)}`);
    }
    await Bun.sleep(50);
  }
  return { host, url: `${opts.tls ? 'https' : 'http'}://${host}`, storageDir, dir, token, tlsCert, log, stop };
}

/** Storage path of a blob's data inside the registry's filesystem driver. */
export function registryBlobPath(reg: TestRegistry, digest: string): string {
  const hex = digest.slice(7);
  return join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
}
