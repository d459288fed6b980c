// A small Bearer token server (hono) for the distribution registry's `auth.token` mode: checks
// Basic credentials and signs RS256 JWTs whose x5c header carries a self-signed certificate that
// the registry trusts through `rootcertbundle`.
import { Hono } from 'hono';
import { createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TokenServer {
  url: string;
  port: number;
  /** Requests the server answered with a token, e.g. to check token caching. */
  issued: { scopes: string[]; user?: string }[];
  stop(): void;
}

export interface TokenServerOptions {
  dir: string;
  issuer: string;
  service: string;
  users: Record<string, string>;
  /** Seconds a token lives. */
  ttl?: number;
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** Writes key.pem and cert.pem (self-signed, RSA 2048) into dir. */
export async function makeSigningCert(dir: string): Promise<{ key: string; cert: string }> {
  const key = join(dir, 'token-key.pem');
  const cert = join(dir, 'token-cert.pem');
  const p = Bun.spawnSync(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=edgebuild-test-token'], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`openssl req failed: ${p.stderr.toString()}`);
  return { key, cert };
}

export function startTokenServer(opts: TokenServerOptions & { key: string; cert: string }): TokenServer {
  const keyPem = readFileSync(opts.key, 'utf8');
  const certDer = Buffer.from(readFileSync(opts.cert, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const issued: TokenServer['issued'] = [];
  const app = new Hono();
  app.get('/token', (c) => {
    let user: string | undefined;
    const auth = c.req.header('authorization');
    if (auth?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (opts.users[u] !== rest.join(':')) return c.json({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }, 401);
      user = u;
    }
    const scopes = c.req.queries('scope') ?? [];
    // Anonymous callers get a token without access: the registry then refuses them with 401.
    const access = user
      ? scopes.flatMap((s) => s.split(' ')).map((s) => {
          const [type, ...rest] = s.split(':');
          const actions = rest.pop()!.split(',');
          return { type, name: rest.join(':'), actions };
        })
      : [];
    const now = Math.floor(Date.now() / 1000);
    const ttl = opts.ttl ?? 300;
    const header = { alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] };
    const claims = { iss: opts.issuer, sub: user ?? '', aud: opts.service, exp: now + ttl, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const sig = createSign('RSA-SHA256').update(input).sign(keyPem);
    issued.push({ scopes, user });
    const token = `${input}.${b64url(sig)}`;
    return c.json({ token, access_token: token, expires_in: ttl, issued_at: new Date().toISOString() });
  });
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: app.fetch });
  return { url: `http://127.0.0.1:${server.port}`, port: server.port!, issued, stop: () => server.stop(true) };
}
