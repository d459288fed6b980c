// One HTTP exchange with a registry: authorization (challenge → token → retry once), redirects
// followed by hand (Authorization only ever goes to the host that asked for it), and retries with
// exponential backoff on 5xx, 408, 429 (honouring Retry-After) and broken connections, within a
// deadline. Other 4xx are answers: never retried (a 401 only gets its one challenge round).
import { Authorizer } from './auth.ts';
import { RegistryError, networkError, responseError } from './errors.ts';
import type { Endpoint } from './endpoint.ts';

export interface RetryPolicy {
  /** Tries per request, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Upper bound on the time one request may spend retrying. */
  deadlineMs: number;
  /** How long to wait for response headers before treating the attempt as timed out. */
  headerTimeoutMs: number;
  /** How long a blob body may deliver nothing before the download is resumed. */
  idleTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 8000, deadlineMs: 120_000, headerTimeoutMs: 60_000, idleTimeoutMs: 60_000 };

export type BodyFactory = () => RequestInit['body'];

export interface RequestSpec {
  ep: Endpoint;
  /** Registry name as the user wrote it (credential lookup). */
  registry: string;
  /** Token scopes, e.g. ["repository:app:pull"]. */
  scopes: string[];
  method: string;
  /** "/v2/…" under the endpoint base, or an absolute URL (upload locations). */
  path: string;
  headers?: Record<string, string>;
  /** Called for every attempt so a body can be sent again (Blob, bytes; not one-shot streams). */
  body?: BodyFactory;
  /** Names the object in errors: "manifest app:1", "blob sha256:…". */
  what: string;
  /** Statuses returned to the caller instead of raising (besides 2xx). */
  accept?: number[];
  /** Mirrors get one try: the next endpoint is the fallback. */
  noRetry?: boolean;
  signal?: AbortSignal;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), reject(signal.reason)), { once: true });
  });

function retryAfterMs(res: Response): number | undefined {
  const h = res.headers.get('retry-after');
  if (!h) return undefined;
  const secs = Number(h);
  if (Number.isFinite(secs)) return Math.max(0, secs * 1000);
  const when = Date.parse(h);
  return Number.isNaN(when) ? undefined : Math.max(0, when - Date.now());
}

export class Transport {
  constructor(
    readonly auth: Authorizer,
    readonly retry: RetryPolicy,
    readonly userAgent: string,
  ) {}

  async request(spec: RequestSpec): Promise<Response> {
    const started = Date.now();
    const attempts = spec.noRetry ? 1 : this.retry.attempts;
    for (let attempt = 1; ; attempt++) {
      let failure: RegistryError;
      let wait: number | undefined;
      try {
        const res = await this.authorized(spec);
        if (res.ok || spec.accept?.includes(res.status)) return res;
        failure = await responseError(res, spec.ep.host, spec.what);
        wait = retryAfterMs(res);
      } catch (e) {
        if (spec.signal?.aborted) throw spec.signal.reason ?? e;
        failure = e instanceof RegistryError ? e : networkError(e, spec.ep.host, spec.what);
      }
      const backoff = wait ?? Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1)) * (0.75 + Math.random() * 0.5);
      const outOfTime = Date.now() - started + backoff > this.retry.deadlineMs;
      if (!failure.retryable || attempt >= attempts || outOfTime) throw failure;
      await sleep(backoff, spec.signal);
    }
  }

  /** Sends with the cached authorization; on 401 answers the challenge and tries once more. */
  private async authorized(spec: RequestSpec): Promise<Response> {
    let header = await this.auth.header(spec.ep, spec.registry, spec.scopes);
    let res = await this.follow(spec, header);
    if (res.status !== 401) return res;
    if (!this.auth.challenged(spec.ep, res)) return res;
    const next = await this.auth.header(spec.ep, spec.registry, spec.scopes);
    if (next === undefined && header === undefined) return res;
    await res.body?.cancel();
    header = next;
    res = await this.follow(spec, header);
    return res;
  }

  private async follow(spec: RequestSpec, authorization: string | undefined): Promise<Response> {
    let url = new URL(/^https?:\/\//.test(spec.path) ? spec.path : spec.ep.base + spec.path);
    const originHost = url.host;
    let method = spec.method;
    let withBody = true;
    for (let hop = 0; hop <= 10; hop++) {
      const headers: Record<string, string> = { 'User-Agent': this.userAgent, ...spec.headers };
      // Bun decompresses Content-Encoding transparently; blobs must arrive byte for byte.
      headers['Accept-Encoding'] = 'identity';
      if (authorization && url.host === originHost) headers.Authorization = authorization;
      const controller = new AbortController();
      const onAbort = () => controller.abort(spec.signal?.reason);
      spec.signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => controller.abort(Object.assign(new Error('timed out waiting for response headers'), { code: 'ETIMEDOUT' })), this.retry.headerTimeoutMs);
      let res: Response;
      try {
        res = await fetch(url, {
          method,
          headers,
          body: withBody ? (spec.body?.() ?? undefined) : undefined,
          redirect: 'manual',
          signal: controller.signal,
          tls: url.host === spec.ep.host ? spec.ep.tls : undefined,
          decompress: false,
        } as RequestInit);
      } finally {
        clearTimeout(timer);
        spec.signal?.removeEventListener('abort', onAbort);
      }
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location || spec.accept?.includes(res.status)) return res;
      await res.body?.cancel();
      url = new URL(location, url);
      if (res.status === 303 || ((res.status === 301 || res.status === 302) && method !== 'GET' && method !== 'HEAD')) {
        method = 'GET';
        withBody = false;
      }
    }
    throw new RegistryError(`${spec.what}: too many redirects from ${spec.ep.host}`);
  }
}
