// Builds a RegistryClient from the edgebuild config and the ok auth plugins.
import type { EdgebuildConfig } from '../config/schema.ts';
import type { CredentialSource } from './credentials.ts';
import { RegistryClient, type RegistryClientOptions } from './client.ts';

export interface ClientContext {
  config: EdgebuildConfig;
  plugins(): Promise<{ all<T>(kind: 'auth'): { id: string; instance: T }[] }>;
  signal?: AbortSignal;
}

export async function clientFromContext(ctx: ClientContext, extra: Partial<RegistryClientOptions> = {}): Promise<RegistryClient> {
  const host = await ctx.plugins();
  const credentials = host.all<CredentialSource>('auth').map((p) => p.instance);
  return new RegistryClient({
    registries: ctx.config.registry,
    credentials,
    signal: ctx.signal,
    ...extra,
  });
}
