// Auth plugin "docker-config": credentials from $DOCKER_CONFIG/config.json (default
// ~/.docker/config.json): inline `auths`, per-host `credHelpers` and the default `credsStore`,
// the latter two by running `docker-credential-<name> get` (host on stdin, JSON on stdout).
import * as v from 'valibot';
import { readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Credential, CredentialSource } from '../../core/registry/credentials.ts';
import { DockerConfigSchema, HelperOutputSchema, helperServer, normalizeKey, type DockerConfig } from './config-file.ts';

const PluginConfigSchema = v.object({
  /** Explicit config.json path; default $DOCKER_CONFIG/config.json or ~/.docker/config.json. */
  path: v.optional(v.string()),
});
type PluginConfig = v.InferOutput<typeof PluginConfigSchema>;

export function defaultDockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG || join(homedir(), '.docker'), 'config.json');
}

/** Reads the file; a missing file means no credentials, a malformed one is an error naming it. */
export function readDockerConfig(path: string): DockerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { auths: {}, credHelpers: {} };
    throw new Error(`${path}: cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${path}: invalid JSON`);
  }
  const r = v.safeParse(DockerConfigSchema, json);
  if (!r.success) {
    const i = r.issues[0];
    throw new Error(`${path}: ${(i.path ?? []).map((p) => String(p.key)).join('.')}: ${i.message}`);
  }
  return r.output;
}

function fromAuthEntry(entry: DockerConfig['auths'][string], where: string): Credential | undefined {
  if (entry.identitytoken) return { identityToken: entry.identitytoken, username: entry.username };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new Error(`${where}: "auth" is not base64 of user:password`);
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username !== undefined && entry.password !== undefined) return { username: entry.username, password: entry.password };
  return undefined;
}

/** Runs `docker-credential-<helper> get`; "not found" answers (exit 1) mean no credentials. */
export async function runHelper(helper: string, host: string): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  // Resolved against the current PATH (Bun.spawn alone would use the PATH at startup).
  const exe = Bun.which(program, { PATH: process.env.PATH ?? '' });
  if (!exe) throw new Error(`credential helper ${program} is not installed (named in docker config for ${host})`);
  const proc = Bun.spawn([exe, 'get'], { stdin: new TextEncoder().encode(helperServer(host) + '\n'), stdout: 'pipe', stderr: 'pipe', env: process.env });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) {
    if (/not found/i.test(out + err)) return undefined;
    throw new Error(`credential helper ${program} failed for ${host}: ${(err || out).trim().split('\n')[0]}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(out);
  } catch {
    throw new Error(`credential helper ${program} printed invalid JSON for ${host}`);
  }
  const r = v.safeParse(HelperOutputSchema, json);
  if (!r.success) throw new Error(`credential helper ${program}: unexpected output for ${host}`);
  // Docker's convention: the username "<token>" marks an identity token.
  if (r.output.Username === '<token>') return { identityToken: r.output.Secret };
  return { username: r.output.Username, password: r.output.Secret };
}

/** How long an answer is reused: registry clients ask once per request, and helpers are programs. */
const MEMO_MS = 30_000;

export class DockerConfigCredentials implements CredentialSource {
  private readonly memo = new Map<string, { at: number; answer: Promise<Credential | undefined> }>();
  constructor(readonly path: string) {}

  get(host: string): Promise<Credential | undefined> {
    const hit = this.memo.get(host);
    if (hit && Date.now() - hit.at < MEMO_MS) return hit.answer;
    const answer = this.lookup(host);
    this.memo.set(host, { at: Date.now(), answer });
    answer.catch(() => this.memo.delete(host));
    return answer;
  }

  private async lookup(host: string): Promise<Credential | undefined> {
    const cfg = readDockerConfig(this.path);
    const want = normalizeKey(host);
    const helperKey = Object.keys(cfg.credHelpers).find((k) => normalizeKey(k) === want);
    if (helperKey) return runHelper(cfg.credHelpers[helperKey], host);
    const authKey = Object.keys(cfg.auths).find((k) => normalizeKey(k) === want);
    const inline = authKey ? fromAuthEntry(cfg.auths[authKey], `${this.path}: auths.${authKey}`) : undefined;
    if (inline) return inline;
    if (cfg.credsStore) return runHelper(cfg.credsStore, host);
    return undefined;
  }
}

/** Whether the file stores secrets itself (helpers keep theirs elsewhere). */
function holdsCredentials(cfg: DockerConfig): boolean {
  return Object.values(cfg.auths).some((a) => a.auth || a.password || a.identitytoken);
}

/**
 * The warning for a config.json with credentials that group or others may read (Docker writes it
 * 0600), or undefined when the file is private, missing or holds no credentials.
 */
export function permissionWarning(path: string, cfg: DockerConfig): string | undefined {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
  if ((mode & 0o044) === 0 || !holdsCredentials(cfg)) return undefined;
  const who = mode & 0o004 ? 'everyone' : 'its group';
  return `warning: ${path} holds registry credentials and is readable by ${who} (mode ${mode.toString(8).padStart(4, '0')}): run chmod 600 ${path}`;
}

const warned = new Set<string>();

export const dockerConfigAuth: PluginRegistration<PluginConfig, CredentialSource> = {
  kind: 'auth',
  id: 'docker-config',
  description: 'Registry credentials from Docker config.json (auths, credHelpers, credsStore)',
  config: PluginConfigSchema,
  init(ctx) {
    const path = ctx.config.path ?? defaultDockerConfigPath();
    // Fail early on a malformed file so `plugins ls` shows why.
    const cfg = readDockerConfig(path);
    const warning = permissionWarning(path, cfg);
    if (warning && !warned.has(path)) {
      warned.add(path);
      // On stderr itself: plugin logs are shown only with --debug, and this needs fixing now.
      process.stderr.write(`${warning}\n`);
    }
    return new DockerConfigCredentials(path);
  },
};

export default dockerConfigAuth;
