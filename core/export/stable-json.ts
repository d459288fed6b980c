// JSON with object keys sorted at every level and no whitespace, so equal values always give equal
// bytes and therefore equal digests (manifests, configs, indexes).

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[k];
      if (v !== undefined) out[k] = sortKeys(v);
    }
    return out;
  }
  return value;
}

export function stableJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function stableJsonBytes(value: unknown): Uint8Array {
  return new TextEncoder().encode(stableJson(value));
}
