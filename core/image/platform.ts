// Platforms as "os/arch[/variant]": parsing, normalising (as containerd does: aarch64 → arm64,
// arm64 implies v8, arm implies v7) and picking the manifest for one out of an index.
import type { Descriptor } from './schemas.ts';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export class PlatformError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlatformError';
  }
}

const ARCH_ALIASES: Record<string, string> = { x86_64: 'amd64', 'x86-64': 'amd64', aarch64: 'arm64', i386: '386', armhf: 'arm', armel: 'arm' };
const NODE_ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64', mips64el: 'mips64le' };

/** Lower-cases and fills in implied variants so equal platforms compare equal. */
export function normalizePlatform(p: Platform): Platform {
  const os = p.os.toLowerCase();
  let architecture = p.architecture.toLowerCase();
  architecture = ARCH_ALIASES[architecture] ?? architecture;
  let variant = p.variant?.toLowerCase() || undefined;
  if (architecture === 'arm64' && (variant === '8' || variant === undefined)) variant = 'v8';
  if (architecture === 'arm' && variant === undefined) variant = 'v7';
  if (architecture === 'arm' && variant && /^\d$/.test(variant)) variant = `v${variant}`;
  if (architecture === 'amd64' && variant === 'v1') variant = undefined;
  return variant ? { os, architecture, variant } : { os, architecture };
}

/** Parses "linux/arm64/v8", "linux/amd64" or "arm64" (os defaults to linux). */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().split('/');
  if (parts.some((p) => !/^[A-Za-z0-9_.-]+$/.test(p)) || parts.length > 3) {
    throw new PlatformError(`invalid platform ${JSON.stringify(text)} (expected os/arch[/variant], e.g. linux/arm64/v8)`);
  }
  const [os, architecture, variant] = parts.length === 1 ? ['linux', parts[0]] : parts;
  return normalizePlatform({ os, architecture, variant });
}

export function formatPlatform(p: Platform): string {
  return [p.os, p.architecture, p.variant].filter(Boolean).join('/');
}

/** The platform this process runs on. */
export function hostPlatform(): Platform {
  const arch = NODE_ARCH[process.arch] ?? process.arch;
  return normalizePlatform({ os: process.platform === 'win32' ? 'windows' : process.platform, architecture: arch });
}

/** Whether an image for `have` can serve a request for `want` (variants must agree when asked). */
export function platformMatches(want: Platform, have: Platform): boolean {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  if (w.os !== h.os || w.architecture !== h.architecture) return false;
  if (w.variant && h.variant && w.variant !== h.variant) return false;
  // arm/v7 can run v6 and v5 images; prefer exact matches via the ranking below.
  return true;
}

function rank(want: Platform, have: Platform): number {
  const w = normalizePlatform(want);
  const h = normalizePlatform(have);
  return w.variant === h.variant ? 0 : 1;
}

/** Picks the manifest for `want` from an index's entries; throws naming what is available. */
export function chooseManifest(manifests: Descriptor[], want: Platform, ref: string): Descriptor {
  const candidates = manifests
    .map((d, i) => ({ d, i }))
    .filter(({ d }) => d.platform && platformMatches(want, { os: d.platform.os, architecture: d.platform.architecture, variant: d.platform.variant }))
    .sort((a, b) => rank(want, a.d.platform! as Platform) - rank(want, b.d.platform! as Platform) || a.i - b.i);
  if (candidates.length > 0) return candidates[0].d;
  const available = manifests
    .filter((d) => d.platform && d.platform.os !== 'unknown')
    .map((d) => formatPlatform(normalizePlatform(d.platform as Platform)));
  throw new PlatformError(`${ref}: no manifest for platform ${formatPlatform(want)} (available: ${available.join(', ') || 'none'})`);
}
