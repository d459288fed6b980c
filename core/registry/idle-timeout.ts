// Fails a response body that stops delivering data, so a stalled connection is resumed (the
// content store retries with a Range request) instead of hanging the pull forever.

import { RegistryError, networkError } from './errors.ts';

/** A body that broke because the connection did (not an abort, not our own timeout). */
function brokenConnection(e: unknown): boolean {
  if (e instanceof RegistryError || (e as { retryable?: boolean })?.retryable) return false;
  const err = e as { code?: string; name?: string; message?: string };
  if (err?.name === 'AbortError') return false;
  return ['ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'ConnectionClosed'].includes(err?.code ?? '') || /socket|connection .*closed|reset/i.test(err?.message ?? '');
}

const seconds = (ms: number) => (ms < 1000 ? `${ms}ms` : `${Math.round(ms / 1000)}s`);

/**
 * `body` failing after `ms` without data. A body broken mid-way (reset, closed early) fails with
 * a retryable RegistryError naming `what` and `host`, so callers can resume and users see where.
 */
export function withIdleTimeout(body: ReadableStream<Uint8Array>, ms: number, what: string, host?: string): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let last = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  const stopTimer = () => timer !== undefined && clearInterval(timer);
  return new ReadableStream<Uint8Array>({
    start(ctl) {
      // One interval per stream (not a timer per chunk): cheap at hundreds of MB/s.
      timer = setInterval(() => {
        if (Date.now() - last < ms) return;
        stopTimer();
        const err = Object.assign(new Error(`${what}: no data for ${seconds(ms)} (timed out)${host ? ` at ${host}` : ''}`), { code: 'ETIMEDOUT', retryable: true });
        ctl.error(err);
        reader.cancel(err).catch(() => {});
      }, Math.max(10, Math.min(1000, ms / 4)));
    },
    async pull(ctl) {
      try {
        const { value, done } = await reader.read();
        last = Date.now();
        if (done) {
          stopTimer();
          ctl.close();
        } else ctl.enqueue(value);
      } catch (e) {
        stopTimer();
        ctl.error(host && brokenConnection(e) ? networkError(e, host, what) : e);
      }
    },
    cancel(reason) {
      stopTimer();
      return reader.cancel(reason);
    },
  });
}
