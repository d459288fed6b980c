// Registry credentials a client sends with its build: an auth plugin consulted before the daemon's
// own, answering from the build's async context only (AsyncLocalStorage), so a credential serves
// the build that brought it and is never stored or logged.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { PluginRegistration } from '../plugin/types.ts';
import type { Credential, CredentialSource } from '../registry/credentials.ts';

const current = new AsyncLocalStorage<Record<string, Credential>>();

export const sessionCredentials: CredentialSource = {
  get: async (host) => current.getStore()?.[host],
};

/** Runs fn with `creds` visible to registry requests it makes. */
export function withSessionCredentials<T>(creds: Record<string, Credential>, fn: () => Promise<T>): Promise<T> {
  return current.run(creds, fn);
}

export const sessionAuthPlugin: PluginRegistration<unknown, CredentialSource> = {
  kind: 'auth',
  id: 'session',
  description: 'registry credentials sent by the client for its build (daemon only)',
  init: () => sessionCredentials,
};
