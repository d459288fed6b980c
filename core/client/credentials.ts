// The client's registry credentials for a build, read the way a local build reads them (the
// docker-config auth plugin), for the registries the build names: FROM and --from images in the
// Dockerfile, pushed image names, cache refs. Sent with the build; the daemon keeps them in memory
// for that build only.
import * as v from 'valibot';
import type { EdgebuildConfig } from '../config/schema.ts';
import type { Credential, CredentialSource } from '../registry/credentials.ts';
import { parseReference } from '../registry/reference.ts';
import { dockerConfigAuth } from '../../plugins/auth-docker-config/index.ts';
import type { BuildRequest } from '../build/run.ts';

/** Registry hosts an image-like word names (stage names and ARG-expanded refs fall out harmlessly). */
function hostOf(word: string): string | undefined {
  if (!word || word.includes('$') || word === 'scratch') return undefined;
  try {
    return parseReference(word).registry;
  } catch {
    return undefined;
  }
}

export function registryHosts(dockerfile: string, req: BuildRequest): string[] {
  const hosts = new Set<string>();
  for (const line of dockerfile.split('\n')) {
    const from = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/i.exec(line);
    if (from) hosts.add(hostOf(from[1]) ?? '');
    for (const m of line.matchAll(/--from=(\S+)/gi)) hosts.add(hostOf(m[1].split(',')[0]) ?? '');
  }
  for (const o of req.outputs) for (const n of (o.attrs.name ?? '').split(',')) hosts.add(hostOf(n.trim()) ?? '');
  for (const c of [...(req.cacheExports ?? []), ...(req.cacheImports ?? [])]) if ('ref' in c) hosts.add(hostOf(c.ref) ?? '');
  hosts.delete('');
  return [...hosts].sort();
}

export async function clientCredentials(config: EdgebuildConfig, hosts: string[]): Promise<Record<string, Credential>> {
  const table = { ...((config.plugins as Record<string, unknown>)['auth.docker-config'] as Record<string, unknown> | undefined) };
  if (table.enabled === false) return {};
  delete table.enabled;
  const pluginConfig = v.parse(dockerConfigAuth.config!, table);
  const source = (await dockerConfigAuth.init({ config: pluginConfig, root: '', pluginRoot: '', global: config, get: () => { throw new Error('unavailable'); }, all: () => [], log: () => {} } as never)) as CredentialSource;
  const out: Record<string, Credential> = {};
  for (const h of hosts) {
    const c = await source.get(h);
    if (c) out[h] = c;
  }
  return out;
}
