// Registry credentials for a proxy snapshotter, handed over per call through a credential lease.
//
// Why this design: a proxy snapshotter (edgebuild snapshotter serve) mounts eStargz layers itself,
// so it needs the credential of the build that asked for the layer, which may exist only in the
// daemon's memory (a client sends its own credentials for its build; they are never written out).
// Credentials must not travel in snapshot labels: the proxy records labels with its snapshots
// (on disk) and returns them from Stat and List to anyone who can reach its socket, and containerd
// keeps them in its metadata database. So a label carries only a lease: 32 random bytes naming a
// lookup the daemon holds in memory for the duration of ONE snapshots call (Prepare or View) and
// revokes when that call returns. The proxy, while serving the call, asks the daemon for the
// credential of one registry host on a unix socket the daemon serves for that purpose (the second
// label), and gets what the build would have used in-process: the client's session credential
// first, then the daemon's own auth plugins. A leaked lease is useless once its call returned;
// the proxy checks that the callback socket belongs to root or its own user before sending
// anything; credentials are never logged (errors name the socket, host and HTTP status only).
//
// The proxy keeps a credential in memory for as long as the lazy layer it mounted stays mounted
// (chunks are fetched on demand after the build that mounted it) — the same as the in-process
// stargz snapshotter. Short-lived bearer tokens instead of the credential would break those
// later fetches once the token expired, so the credential itself is handed over.
import { lstatSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Server } from 'bun';
import * as v from 'valibot';
import { findCredential, type Credential, type CredentialSource } from '../registry/credentials.ts';

export const CREDENTIAL_LEASE_LABEL = 'containerd.io/snapshot/remote/edgebuild.credential-lease';
export const CREDENTIAL_SOCKET_LABEL = 'containerd.io/snapshot/remote/edgebuild.credential-socket';

const LEASE_RE = /^[a-f0-9]{64}$/;
const PATH = '/v1/credentials';

export const CredentialSchema = v.union([
  v.strictObject({ username: v.string(), password: v.string() }),
  v.strictObject({ identityToken: v.string(), username: v.optional(v.string()) }),
]);
const RequestSchema = v.strictObject({ lease: v.pipe(v.string(), v.regex(LEASE_RE)), host: v.pipe(v.string(), v.minLength(1), v.maxLength(300)) });
const ResponseSchema = v.strictObject({ credential: v.nullable(CredentialSchema) });

export interface CredentialLease {
  /** Labels to add to the call. */
  labels: Record<string, string>;
  /** Revokes the lease (after the call returned). */
  release(): void;
}

export interface CredentialBroker {
  socketPath: string;
  /** A lease answering with the credentials visible from the caller's async context (a daemon
   *  build's session), valid until released. */
  lease(): CredentialLease;
  /** Leases currently open (for tests). */
  open(): number;
  close(): void;
}

/** Daemon side: serves leased lookups on `socketPath` (mode 0660). */
export function startCredentialBroker(socketPath: string, sources: () => readonly CredentialSource[]): CredentialBroker {
  if (Buffer.byteLength(socketPath) > 107) throw new Error(`credential socket ${socketPath}: path is longer than a unix socket allows (107 bytes); use a shorter --root`);
  const leases = new Map<string, (host: string) => Promise<Credential | undefined>>();
  const reply = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const oldMask = process.umask(0o117);
  let server: Server<undefined>;
  try {
    const opts = {
      unix: socketPath,
      async fetch(req: Request) {
        if (req.method !== 'POST' || new URL(req.url).pathname !== PATH) return reply(404, { error: 'no such endpoint' });
        let body: unknown;
        try {
          body = await req.json();
        } catch {
          return reply(400, { error: 'body is not JSON' });
        }
        const parsed = v.safeParse(RequestSchema, body);
        if (!parsed.success) return reply(400, { error: 'request: expected {lease: 64 hex digits, host}' });
        const lookup = leases.get(parsed.output.lease);
        if (!lookup) return reply(403, { error: 'credential lease is unknown or expired' });
        try {
          return reply(200, { credential: (await lookup(parsed.output.host)) ?? null });
        } catch (e) {
          return reply(502, { error: `credential lookup for ${parsed.output.host} failed: ${(e as Error).message.split('\n')[0]}` });
        }
      },
    };
    server = Bun.serve(opts as unknown as Parameters<typeof Bun.serve>[0]) as Server<undefined>;
  } finally {
    process.umask(oldMask);
  }
  return {
    socketPath,
    lease() {
      // The build's async context (its session credentials) is captured now and used when the
      // proxy calls back, from the HTTP handler's context.
      const inContext = AsyncLocalStorage.snapshot();
      const id = randomBytes(32).toString('hex');
      leases.set(id, (host) => inContext(() => findCredential(sources(), host)));
      return { labels: { [CREDENTIAL_LEASE_LABEL]: id, [CREDENTIAL_SOCKET_LABEL]: socketPath }, release: () => void leases.delete(id) };
    },
    open: () => leases.size,
    close() {
      leases.clear();
      server.stop(true);
    },
  };
}

/** Proxy side: splits the lease labels off a call's labels (they are never stored) and returns
 *  the credential source they name. Malformed lease labels are an error naming the label. */
export function takeCredentialLease(labels: Record<string, string>, opts: { uid?: number; timeoutMs?: number } = {}): { labels: Record<string, string>; source?: CredentialSource } {
  const lease = labels[CREDENTIAL_LEASE_LABEL];
  const socket = labels[CREDENTIAL_SOCKET_LABEL];
  if (lease === undefined && socket === undefined) return { labels };
  const rest = { ...labels };
  delete rest[CREDENTIAL_LEASE_LABEL];
  delete rest[CREDENTIAL_SOCKET_LABEL];
  if (lease === undefined || !LEASE_RE.test(lease)) throw new Error(`label ${CREDENTIAL_LEASE_LABEL}: ${lease === undefined ? 'missing' : 'is not 64 hex digits'} (it goes with ${CREDENTIAL_SOCKET_LABEL})`);
  if (socket === undefined || !isAbsolute(socket)) throw new Error(`label ${CREDENTIAL_SOCKET_LABEL}: ${socket === undefined ? 'missing' : `${JSON.stringify(socket.slice(0, 200))} is not an absolute path`}`);
  let st;
  try {
    st = lstatSync(socket);
  } catch (e) {
    throw new Error(`label ${CREDENTIAL_SOCKET_LABEL}: ${socket}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!st.isSocket()) throw new Error(`label ${CREDENTIAL_SOCKET_LABEL}: ${socket} is not a socket`);
  const me = opts.uid ?? process.getuid?.() ?? 0;
  if (st.uid !== 0 && st.uid !== me) throw new Error(`label ${CREDENTIAL_SOCKET_LABEL}: ${socket} is owned by uid ${st.uid}, neither root nor this process's user`);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const source: CredentialSource = {
    async get(host) {
      let res: Response;
      try {
        res = await fetch(`http://edgebuild${PATH}`, {
          method: 'POST',
          unix: socket,
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ lease, host }),
          signal: AbortSignal.timeout(timeoutMs),
        } as RequestInit);
      } catch (e) {
        throw new Error(`credentials for ${host} from ${socket}: ${(e as Error).message.split('\n')[0]}`);
      }
      let body: unknown;
      try {
        body = await res.json();
      } catch {
        throw new Error(`credentials for ${host} from ${socket}: HTTP ${res.status}, body is not JSON`);
      }
      if (res.status !== 200) {
        const why = typeof (body as { error?: unknown })?.error === 'string' ? (body as { error: string }).error.slice(0, 200) : 'no reason given';
        throw new Error(`credentials for ${host} from ${socket}: HTTP ${res.status}: ${why}`);
      }
      const parsed = v.safeParse(ResponseSchema, body);
      // Never valibot's issue message: it quotes the received value, which may hold a secret.
      if (!parsed.success) throw new Error(`credentials for ${host} from ${socket}: malformed answer (expected {credential: {username, password} | {identityToken} | null})`);
      return parsed.output.credential ?? undefined;
    },
  };
  return { labels: rest, source };
}
