// `--output type=X,k=v` attributes: every exporter names what it accepts; anything else is an
// error naming the attribute and the exporter (BuildKit silently ignores some; we do not).

export class ExportAttrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ExportAttrError';
  }
}

/** Throws on the first attribute not in `known`. */
export function checkAttrs(exporter: string, attrs: Record<string, string>, known: readonly string[]): void {
  for (const key of Object.keys(attrs)) {
    if (!known.includes(key)) {
      throw new ExportAttrError(`exporter ${exporter}: unknown attribute ${JSON.stringify(key)} (accepted: ${known.join(', ')})`);
    }
  }
}

/** "true"/"false" (and BuildKit's empty value meaning true); undefined → `dflt`. */
export function boolAttr(exporter: string, attrs: Record<string, string>, key: string, dflt: boolean): boolean {
  const raw = attrs[key];
  if (raw === undefined) return dflt;
  const s = raw.trim().toLowerCase();
  if (s === '' || s === 'true' || s === '1') return true;
  if (s === 'false' || s === '0') return false;
  throw new ExportAttrError(`exporter ${exporter}: attribute ${key}=${JSON.stringify(raw)}: expected true or false`);
}

/** An integer within [min, max], or undefined when absent. */
export function intAttr(exporter: string, attrs: Record<string, string>, key: string, min: number, max: number): number | undefined {
  const raw = attrs[key];
  if (raw === undefined) return undefined;
  const n = /^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new ExportAttrError(`exporter ${exporter}: attribute ${key}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

/** A required non-empty attribute. */
export function requiredAttr(exporter: string, attrs: Record<string, string>, key: string): string {
  const raw = attrs[key];
  if (raw === undefined || raw === '') throw new ExportAttrError(`exporter ${exporter}: attribute ${key} is required`);
  return raw;
}
