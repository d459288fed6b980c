// An AbortSignal stand-in that fails on its n-th check: a deterministic failure half-way through
// an export (exporters check the signal once per entry or layer).
export function failAfter(checks: number, message = 'cancelled mid-export'): AbortSignal {
  let n = 0;
  return {
    aborted: false,
    throwIfAborted() {
      if (++n > checks) throw new Error(message);
    },
  } as unknown as AbortSignal;
}
