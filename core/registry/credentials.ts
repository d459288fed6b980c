// Where registry credentials come from. Auth plugins (kind "auth") implement CredentialSource;
// the client asks each in order and uses the first answer.

export type Credential = { username: string; password: string } | { identityToken: string; username?: string };

export interface CredentialSource {
  /** Credentials for a registry host as written in references ("docker.io", "127.0.0.1:5000"). */
  get(host: string): Promise<Credential | undefined>;
}

export async function findCredential(sources: readonly CredentialSource[], host: string): Promise<Credential | undefined> {
  for (const s of sources) {
    const c = await s.get(host);
    if (c) return c;
  }
  return undefined;
}

/** A fixed set of credentials, for tests and `--creds user:pass` style flags. */
export function staticCredentials(map: Record<string, Credential>): CredentialSource {
  return { get: async (host) => map[host] };
}
