// Image references parsed like Docker's: "alpine" → docker.io/library/alpine:latest; a first
// component with "." or ":" (or "localhost") is a registry host; "@sha256:…" pins a digest.

export interface Reference {
  /** Registry as written (normalised): "docker.io", "127.0.0.1:5000", "[::1]:5000". */
  registry: string;
  /** Repository path inside the registry: "library/alpine". */
  repository: string;
  tag?: string;
  digest?: string;
}

export class ReferenceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReferenceError';
  }
}

export const DOCKER_HUB = 'docker.io';
const DOCKER_HUB_API = 'registry-1.docker.io';

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const DOMAIN = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;

function looksLikeHost(component: string): boolean {
  return component.includes('.') || component.includes(':') || component === 'localhost' || component.startsWith('[') || component !== component.toLowerCase();
}

export function parseReference(input: string): Reference {
  const text = input.trim();
  const bad = (why: string) => new ReferenceError(`invalid reference ${JSON.stringify(input)}: ${why}`);
  if (!text) throw bad('empty');
  if (/\s/.test(text)) throw bad('contains whitespace');
  if (text.includes('://')) throw bad('a reference has no scheme (write host/repo:tag)');
  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) throw bad(`invalid digest ${JSON.stringify(digest)}`);
    if (digest.startsWith('sha256:') && digest.length !== 71) throw bad(`sha256 digest must have 64 hex digits`);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash && !rest.slice(colon).includes(']')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag ${JSON.stringify(tag)}`);
  }
  if (!rest) throw bad('missing repository name');
  const parts = rest.split('/');
  let registry = DOCKER_HUB;
  if (parts.length > 1 && looksLikeHost(parts[0])) {
    registry = parts.shift()!;
    if (!DOMAIN.test(registry)) throw bad(`invalid registry host ${JSON.stringify(registry)}`);
    const port = registry.match(/:(\d+)$/)?.[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) throw bad(`invalid port ${port}`);
    // Host names are case-insensitive, but a bare name counts as a host only through its
    // capitals (as in Docker): "B/app" keeps "B", or printing it would make it docker.io/b/app.
    const lower = registry.replace(/^([^:\[]+|\[[^\]]+\])/, (h) => h.toLowerCase());
    if (looksLikeHost(lower)) registry = lower;
  }
  if (registry === 'index.docker.io' || registry === DOCKER_HUB_API) registry = DOCKER_HUB;
  for (const p of parts) {
    if (p !== p.toLowerCase()) throw bad('repository name must be lowercase');
    if (!COMPONENT.test(p)) throw bad(`invalid repository name component ${JSON.stringify(p)}`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw bad('repository name longer than 255 characters');
  if (!tag && !digest) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** "registry/repo:tag@digest" (tag omitted when only the digest was given). */
export function formatReference(ref: Reference): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? ':' + ref.tag : ''}${ref.digest ? '@' + ref.digest : ''}`;
}

/** Familiar short form for messages: "alpine:3.20" for Docker Hub library images. */
export function familiarName(ref: Reference): string {
  const full = formatReference(ref);
  return full.startsWith('docker.io/library/') ? full.slice(18) : full.startsWith('docker.io/') ? full.slice(10) : full;
}

/** Host the registry API is served from: docker.io's API lives at registry-1.docker.io. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/** The tag or digest used in /v2/<name>/manifests/<reference>. */
export function manifestReference(ref: Reference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** Host part without port, lower-case, brackets removed. */
export function hostname(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort.slice(1, hostPort.indexOf(']')).toLowerCase();
  return hostPort.split(':')[0].toLowerCase();
}

/** localhost, 127.0.0.0/8 and ::1 talk plain HTTP without being configured to. */
export function isLoopbackHost(hostPort: string): boolean {
  const h = hostname(hostPort);
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}
