// Error context for image operations: one line saying what was being done to what.

/**
 * Prefixes an error's message with the operation ("pull x:1"), keeping its class and fields. A
 * message that already starts with the subject ("x:1: …") gets the operation in its place.
 */
export function withContext<E>(e: E, prefix: string, subject?: string): E {
  if (!(e instanceof Error) || e.message.startsWith(prefix)) return e;
  // "manifest x:1: …" says nothing more than "pull x:1: …" when x:1 is what is being pulled.
  const redundant = subject ? [`${subject}: `, `manifest ${subject}: `].find((p) => e.message.startsWith(p)) : undefined;
  e.message = redundant ? `${prefix}: ${e.message.slice(redundant.length)}` : `${prefix}: ${e.message}`;
  return e;
}
