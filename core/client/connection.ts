// Talking to a daemon over its --addr: HTTP over a unix socket, or TCP (TLS with a client
// certificate when EDGEBUILD_TLS_CERT/KEY/CACERT are set, like buildctl's --tlscert flags).
// Connection failures become one line naming the address and the reason.
import { parseAddress, type DaemonAddress } from '../daemon/address.ts';

export class DaemonError extends Error {}

export interface DaemonTls {
  cert?: string;
  key?: string;
  ca?: string;
}

export class DaemonConnection {
  readonly address: DaemonAddress;

  constructor(readonly addr: string, private readonly tls: DaemonTls = tlsFromEnv()) {
    try {
      this.address = parseAddress(addr);
    } catch (e) {
      throw new DaemonError((e as Error).message);
    }
  }

  private get base(): string {
    if (this.address.kind === 'unix') return 'http://edgebuild';
    const secure = Boolean(this.tls.cert || this.tls.ca);
    const host = this.address.host.includes(':') ? `[${this.address.host}]` : this.address.host;
    return `${secure ? 'https' : 'http'}://${host}:${this.address.port}`;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const opts: Record<string, unknown> = { ...init, timeout: false, decompress: false };
    if (this.address.kind === 'unix') opts.unix = this.address.path;
    else if (this.tls.cert || this.tls.ca) {
      opts.tls = {
        ...(this.tls.cert ? { cert: Bun.file(this.tls.cert) } : {}),
        ...(this.tls.key ? { key: Bun.file(this.tls.key) } : {}),
        ...(this.tls.ca ? { ca: Bun.file(this.tls.ca) } : {}),
      };
    }
    try {
      return await fetch(this.base + path, opts as RequestInit);
    } catch (e) {
      if ((e as Error).name === 'AbortError') throw e;
      throw new DaemonError(`cannot connect to the daemon at ${this.addr}: ${reason(e as Error & { code?: string })}`);
    }
  }

  /** JSON request; a non-2xx answer throws with the daemon's one-line error. */
  async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const res = await this.fetch(path, init);
    if (!res.ok) throw new DaemonError(await errorLine(res));
    return (await res.json()) as T;
  }
}

export async function errorLine(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const e = JSON.parse(text) as { error?: unknown };
    if (typeof e.error === 'string') return `daemon: ${e.error}`;
  } catch {
    // not JSON
  }
  return `daemon answered ${res.status} ${res.statusText}${text ? `: ${text.split('\n')[0].slice(0, 200)}` : ''}`;
}

function reason(e: Error & { code?: string }): string {
  const code = e.code ?? '';
  const msg = e.message ?? '';
  if (code === 'EACCES' || /permission denied|EACCES/i.test(msg)) return 'permission denied (is your user in the socket\'s group?)';
  if (code === 'ENOENT' || /ENOENT|no such file/i.test(msg)) return 'no such socket (is `edgebuild daemon` running?)';
  if (code === 'ECONNREFUSED' || /ConnectionRefused|ECONNREFUSED/i.test(msg)) return 'connection refused (is `edgebuild daemon` running?)';
  if (/TLS handshake|EPROTO|certificate/i.test(`${code} ${msg}`)) return 'TLS handshake failed (the daemon wants a client certificate from its CA: set EDGEBUILD_TLS_CERT, EDGEBUILD_TLS_KEY and EDGEBUILD_TLS_CACERT)';
  const first = msg.split('\n')[0];
  return code && !first.startsWith(code) ? `${code}: ${first}` : first;
}

export function tlsFromEnv(): DaemonTls {
  return { cert: process.env.EDGEBUILD_TLS_CERT || undefined, key: process.env.EDGEBUILD_TLS_KEY || undefined, ca: process.env.EDGEBUILD_TLS_CACERT || undefined };
}
