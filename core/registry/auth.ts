// Registry authentication: remembers each host's challenge (Basic or Bearer), fetches Bearer
// tokens from the realm (GET with basic credentials or anonymously; POST oauth2 with an identity
// token) and caches them per host and scope set until they expire.
import * as v from 'valibot';
import { createHash } from 'node:crypto';
import { parseWwwAuthenticate, type Challenge } from './www-authenticate.ts';
import { findCredential, type Credential, type CredentialSource } from './credentials.ts';
import { RegistryError, networkError, transientStatus } from './errors.ts';
import type { Endpoint } from './endpoint.ts';

const TokenResponseSchema = v.object({
  token: v.optional(v.string()),
  access_token: v.optional(v.string()),
  expires_in: v.optional(v.number()),
  issued_at: v.optional(v.string()),
});

const basic = (c: { username: string; password: string }) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

export class Authorizer {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, { header: string; expires: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly sources: readonly CredentialSource[],
    private readonly userAgent: string,
  ) {}

  /** Credentials are looked up under the name the user wrote (docker.io) for the origin. */
  private credentialHost(ep: Endpoint, registry: string): string {
    return ep.mirror ? ep.host : registry;
  }

  /** Not memoised here: a source may answer per build (the daemon's session credentials);
   *  sources that run helper programs remember their own answers. */
  private credential(host: string): Promise<Credential | undefined> {
    return findCredential(this.sources, host);
  }

  /** Tokens are cached per credential too: one client may serve builds with different users. */
  private static fingerprint(cred: Credential | undefined): string {
    return cred ? createHash('sha256').update(JSON.stringify(cred)).digest('hex').slice(0, 16) : 'anonymous';
  }

  /** Authorization header to send up front (after the host has challenged us once). */
  async header(ep: Endpoint, registry: string, scopes: string[]): Promise<string | undefined> {
    const ch = this.challenges.get(ep.host);
    if (!ch) return undefined;
    if (ch.scheme === 'basic') {
      const cred = await this.credential(this.credentialHost(ep, registry));
      return cred && 'password' in cred ? basic(cred) : undefined;
    }
    if (ch.scheme === 'bearer') return this.bearer(ep, registry, ch, scopes);
    return undefined;
  }

  /**
   * Records the challenge of a 401 and drops cached tokens of the host (they were refused).
   * Returns false when the response carries no challenge we can answer.
   */
  challenged(ep: Endpoint, res: Response): boolean {
    const header = res.headers.get('www-authenticate');
    const all = header ? parseWwwAuthenticate(header) : [];
    const ch = all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic');
    if (!ch) return false;
    this.challenges.set(ep.host, ch);
    this.invalidate(ep);
    return true;
  }

  invalidate(ep: Endpoint): void {
    for (const k of this.tokens.keys()) if (k.startsWith(`${ep.host}|`)) this.tokens.delete(k);
  }

  private tokenKey(ep: Endpoint, ch: Challenge, scopes: string[], who: string): string {
    return `${ep.host}|${who}|${ch.params.realm}|${ch.params.service ?? ''}|${[...new Set(scopes)].sort().join(' ')}`;
  }

  private async bearer(ep: Endpoint, registry: string, ch: Challenge, scopes: string[]): Promise<string> {
    // The caller knows every repository a request touches (a mount names two); the challenge's
    // own scope is only used when the caller has none.
    const wanted = scopes.length > 0 ? scopes : ch.params.scope ? ch.params.scope.split(' ') : [];
    const allScopes = [...new Set(wanted)].sort();
    const cred = await this.credential(this.credentialHost(ep, registry));
    const key = this.tokenKey(ep, ch, allScopes, Authorizer.fingerprint(cred));
    const cached = this.tokens.get(key);
    if (cached && cached.expires > Date.now()) return cached.header;
    const running = this.pending.get(key);
    if (running) return running;
    const p = (async () => {
      const { token, expiresIn } = await this.fetchToken(ep, ch, allScopes, cred);
      const header = `Bearer ${token}`;
      // Refresh a little early so a request never carries a token that expires in flight.
      this.tokens.set(key, { header, expires: Date.now() + Math.max(1, expiresIn - 10) * 1000 });
      return header;
    })().finally(() => this.pending.delete(key));
    this.pending.set(key, p);
    return p;
  }

  private async fetchToken(ep: Endpoint, ch: Challenge, scopes: string[], cred: Credential | undefined): Promise<{ token: string; expiresIn: number }> {
    const realm = ch.params.realm;
    if (!realm) throw new RegistryError(`${ep.host}: Bearer challenge without realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError(`${ep.host}: Bearer challenge has an invalid realm ${JSON.stringify(realm)}`);
    }
    const realmHost = url.host;
    const tls = realmHost === ep.host ? ep.tls : undefined;
    let res: Response;
    try {
      if (cred && 'identityToken' in cred) {
        const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'edgebuild' });
        if (ch.params.service) form.set('service', ch.params.service);
        if (scopes.length) form.set('scope', scopes.join(' '));
        res = await fetch(url, { method: 'POST', body: form, headers: { 'User-Agent': this.userAgent }, tls } as RequestInit);
      } else {
        if (ch.params.service) url.searchParams.set('service', ch.params.service);
        for (const s of scopes) url.searchParams.append('scope', s);
        const headers: Record<string, string> = { 'User-Agent': this.userAgent };
        if (cred && 'password' in cred) headers.Authorization = basic(cred);
        res = await fetch(url, { headers, tls } as RequestInit);
      }
    } catch (e) {
      throw networkError(e, realmHost);
    }
    if (!res.ok) {
      await res.body?.cancel();
      const hint = res.status === 401 || res.status === 403 ? ' (check credentials)' : '';
      throw new RegistryError(`${res.status} ${res.status === 401 ? 'unauthorized' : res.statusText || 'error'} at ${ep.host} (token from ${realmHost})${hint}`, res.status, undefined, transientStatus(res.status));
    }
    const parsed = v.safeParse(TokenResponseSchema, await res.json().catch(() => null));
    const token = parsed.success ? (parsed.output.token ?? parsed.output.access_token) : undefined;
    if (!token) throw new RegistryError(`${ep.host}: token server ${realmHost} returned no token`);
    return { token, expiresIn: parsed.success && parsed.output.expires_in ? parsed.output.expires_in : 60 };
  }
}
