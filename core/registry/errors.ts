// Registry failures as one line naming the host and what was asked for. Callers prefix the
// operation ("pull 127.0.0.1:5000/x:1: …").
import * as v from 'valibot';

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    /** Distribution error code, e.g. MANIFEST_UNKNOWN, BLOB_UNKNOWN, DIGEST_INVALID. */
    readonly code?: string,
    /** Worth retrying (5xx, 429, resets): the retry loop looks at this. */
    readonly retryable = false,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

const ErrorBodySchema = v.object({
  errors: v.array(v.object({ code: v.optional(v.string()), message: v.optional(v.string()) })),
});

const STATUS_TEXT: Record<number, string> = {
  400: 'bad request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not found',
  405: 'method not allowed',
  409: 'conflict',
  408: 'request timeout',
  416: 'range not satisfiable',
  429: 'too many requests',
  500: 'internal server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/**
 * Statuses worth asking again: the server may answer differently later (5xx, 408 request timeout,
 * 429 rate limit). Any other 4xx (401, 403, 404, 416, …) is the registry's answer, not a glitch.
 */
export function transientStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Builds the error for a non-success response; `what` is e.g. "manifest x:1" or "blob sha256:…". */
export async function responseError(res: Response, host: string, what: string): Promise<RegistryError> {
  let code: string | undefined;
  let detail = '';
  try {
    const text = await res.text();
    const parsed = v.safeParse(ErrorBodySchema, JSON.parse(text));
    if (parsed.success && parsed.output.errors.length > 0) {
      code = parsed.output.errors[0].code;
      detail = parsed.output.errors[0].message ?? '';
    }
  } catch {
    // not a distribution error body
  }
  const status = res.status;
  const text = STATUS_TEXT[status] ?? res.statusText ?? 'error';
  const hint = status === 401 ? ' (check credentials)' : status === 403 ? ' (credentials lack access)' : '';
  // A 401's detail ("authentication required") adds nothing to the hint.
  const extra = detail && status !== 401 && detail.toLowerCase() !== text ? `: ${detail}` : '';
  return new RegistryError(`${what}: ${status} ${text}${extra} at ${host}${hint}`, status, code, transientStatus(status));
}

/**
 * Describes a fetch failure in one line naming the host. Failures to connect (refused,
 * unresolvable, TLS) are about the host; a connection broken later (reset, timeout) also names
 * `what` was being transferred, when given.
 */
export function networkError(e: unknown, host: string, what?: string): RegistryError {
  const err = e as { code?: string; message?: string };
  const code = err?.code ?? '';
  let why: string;
  let retryable = true;
  if (code === 'ECONNREFUSED' || code === 'ConnectionRefused') why = 'connection refused';
  else if (code === 'ENOTFOUND' || code === 'EAI_NONAME' || code === 'EAI_AGAIN') {
    why = 'host name does not resolve';
    retryable = code === 'EAI_AGAIN';
  } else if (code === 'ECONNRESET') why = 'connection reset';
  else if (code === 'ETIMEDOUT' || code === 'TimeoutError' || (e as Error)?.name === 'TimeoutError') why = 'timed out';
  else if (/certificate|tls|ssl/i.test(`${code} ${err?.message}`)) {
    why = `TLS error: ${err?.message ?? code} (set ca or insecure for this host in [registry."${host}"])`;
    retryable = false;
  } else why = (err?.message ?? String(e)).split('\n')[0];
  const connected = !['ECONNREFUSED', 'ConnectionRefused', 'ENOTFOUND', 'EAI_NONAME', 'EAI_AGAIN'].includes(code) && retryable;
  if (what && connected) return new RegistryError(`${what}: ${why} at ${host}`, undefined, code || undefined, retryable);
  return new RegistryError(`cannot reach ${host}: ${why}`, undefined, code || undefined, retryable);
}
