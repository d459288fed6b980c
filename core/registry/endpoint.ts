// Where requests for a registry go: mirrors (pulls only) then the origin, each with its scheme
// and TLS settings from `[registry."host"]`.
import { readFileSync } from 'node:fs';
import type { RegistryHostConfig } from '../config/schema.ts';
import { apiHost, isLoopbackHost } from './reference.ts';

export interface Endpoint {
  /** host[:port] requests go to; used in messages and as the auth cache key. */
  host: string;
  /** "http://host:port" or "https://host:port", plus a path prefix for mirrors that have one. */
  base: string;
  mirror: boolean;
  tls?: { rejectUnauthorized?: boolean; ca?: string[] };
}

export type RegistryConfigMap = Record<string, RegistryHostConfig>;

const caCache = new Map<string, string>();
function readCa(path: string, host: string): string {
  let pem = caCache.get(path);
  if (pem === undefined) {
    try {
      pem = readFileSync(path, 'utf8');
    } catch (e) {
      throw new Error(`registry ${host}: cannot read ca file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    caCache.set(path, pem);
  }
  return pem;
}

function hostConfig(config: RegistryConfigMap, ...keys: string[]): RegistryHostConfig | undefined {
  for (const k of keys) if (config[k]) return config[k];
  return undefined;
}

function endpointFor(hostOrUrl: string, config: RegistryConfigMap, mirror: boolean): Endpoint {
  let scheme: 'http' | 'https' | undefined;
  let rest = hostOrUrl;
  const m = hostOrUrl.match(/^(https?):\/\/(.*)$/);
  if (m) {
    scheme = m[1] as 'http' | 'https';
    rest = m[2];
  }
  rest = rest.replace(/\/+$/, '');
  const slash = rest.indexOf('/');
  const host = slash >= 0 ? rest.slice(0, slash) : rest;
  const prefix = slash >= 0 ? rest.slice(slash) : '';
  const cfg = hostConfig(config, host);
  // Loopback hosts speak plain HTTP unless their table asks for TLS settings (ca or insecure).
  const wantsTls = Boolean(cfg && (cfg.insecure || cfg.ca.length > 0));
  scheme ??= cfg?.http || (isLoopbackHost(host) && !wantsTls) ? 'http' : 'https';
  const tls = scheme === 'https' && cfg && (cfg.insecure || cfg.ca.length > 0)
    ? { rejectUnauthorized: !cfg.insecure, ca: cfg.ca.length > 0 ? cfg.ca.map((p) => readCa(p, host)) : undefined }
    : undefined;
  return { host, base: `${scheme}://${host}${prefix}`, mirror, tls };
}

/** Endpoints to try for a registry: its mirrors in order (for pulls), then the origin. */
export function endpointsFor(registry: string, config: RegistryConfigMap, forPull: boolean): Endpoint[] {
  const origin = apiHost(registry);
  const cfg = hostConfig(config, registry, origin);
  const mirrors = forPull ? (cfg?.mirrors ?? []).map((m) => endpointFor(m, config, true)) : [];
  const originEp = endpointFor(origin, config, false);
  // An origin's own http/insecure/ca settings may be filed under the reference's registry name.
  if (cfg && !config[origin]) {
    const alt = endpointFor(origin, { ...config, [origin]: cfg }, false);
    return [...mirrors, alt];
  }
  return [...mirrors, originEp];
}
