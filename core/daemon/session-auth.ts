// Registry credentials that belong to one build: an auth plugin consulted before the process's
// own, answering from the build's async context only (AsyncLocalStorage), so a credential serves
// the build that brought it and is never stored or logged. In the daemon they are the ones a
// client sent with its build; in a proxy snapshotter, the daemon's answers for the call's
// credential lease (core/snapshot/credential-lease.ts).
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PluginRegistration } from '../plugin/types.ts';
import { PluginHost } from '../plugin/host.ts';
import type { Credential, CredentialSource } from '../registry/credentials.ts';

const current = new AsyncLocalStorage<CredentialSource>();

export const sessionCredentials: CredentialSource = {
  get: async (host) => current.getStore()?.get(host),
};

/** Runs fn with `creds` (a host → credential table or a source) visible to registry requests it makes. */
export function withSessionCredentials<T>(creds: Record<string, Credential> | CredentialSource, fn: () => Promise<T>): Promise<T> {
  const source: CredentialSource = typeof creds.get === 'function' ? (creds as CredentialSource) : { get: async (host) => (creds as Record<string, Credential>)[host] };
  return current.run(source, fn);
}

export const sessionAuthPlugin: PluginRegistration<unknown, CredentialSource> = {
  kind: 'auth',
  id: 'session',
  description: 'registry credentials of the current build (daemon: sent by the client; proxy snapshotter: leased by the daemon)',
  init: () => sessionCredentials,
};

/** A plugin host whose first auth plugin is the session's (so its credentials win), then `plugins`. */
export async function hostWithSessionAuth(opts: ConstructorParameters<typeof PluginHost>[0], plugins: PluginRegistration<any, any>[]): Promise<PluginHost> {
  const host = new PluginHost(opts);
  host.register(sessionAuthPlugin);
  for (const reg of plugins) host.register(reg);
  await host.loadExternal();
  await host.init();
  return host;
}
