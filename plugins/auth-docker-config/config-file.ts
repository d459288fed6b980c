// Docker's client config (~/.docker/config.json): the parts that say where credentials are.
import * as v from 'valibot';

export const DockerConfigSchema = v.object({
  auths: v.optional(
    v.record(
      v.string(),
      v.object({
        auth: v.optional(v.string()),
        username: v.optional(v.string()),
        password: v.optional(v.string()),
        identitytoken: v.optional(v.string()),
      }),
    ),
    {},
  ),
  credHelpers: v.optional(v.record(v.string(), v.string()), {}),
  credsStore: v.optional(v.string()),
});
export type DockerConfig = v.InferOutput<typeof DockerConfigSchema>;

/** Output of `docker-credential-<name> get`. */
export const HelperOutputSchema = v.object({ ServerURL: v.optional(v.string()), Username: v.string(), Secret: v.string() });

const HUB_NAMES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io']);
/** Docker stores Hub credentials under this legacy key. */
export const HUB_KEY = 'https://index.docker.io/v1/';

/** "https://index.docker.io/v1/" → "docker.io"; "http://host:5000/x" → "host:5000". */
export function normalizeKey(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0].toLowerCase();
  return HUB_NAMES.has(host) ? 'docker.io' : host;
}

/** The name a credential helper is asked about: Hub uses its legacy URL. */
export function helperServer(host: string): string {
  return normalizeKey(host) === 'docker.io' ? HUB_KEY : host;
}
