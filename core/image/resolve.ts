// Resolves a reference on a registry to one platform's image manifest: fetch the top manifest,
// and when it is an index choose the platform's entry and fetch that (each digest-verified).
import type { RegistryClient, FetchedManifest } from '../registry/client.ts';
import type { Reference } from '../registry/reference.ts';
import { parseManifest, assertImageManifest, ImageFormatError } from './manifest.ts';
import { chooseManifest, formatPlatform, normalizePlatform, platformMatches, type Platform } from './platform.ts';
import type { Descriptor, ImageIndex, ImageManifest } from './schemas.ts';
import { familiarName } from '../registry/reference.ts';

export interface ResolvedImage {
  ref: Reference;
  /** The manifest of the chosen platform. */
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  manifestDesc: Descriptor;
  /** The index it was chosen from, when the reference named one. */
  index?: { desc: Descriptor; bytes: Uint8Array; index: ImageIndex };
  platform: Platform;
}

const descOf = (m: FetchedManifest, mediaType: string): Descriptor => ({ mediaType, digest: m.digest, size: m.bytes.length });

export async function resolveImage(client: RegistryClient, ref: Reference, want: Platform): Promise<ResolvedImage> {
  const name = familiarName(ref);
  const top = await client.getManifest(ref);
  const parsed = parseManifest(top.bytes, top.mediaType, name);
  if (parsed.kind === 'manifest') {
    assertImageManifest(parsed.manifest, name);
    // A single-platform image: its platform is only known from the config; the caller checks.
    return { ref, manifest: parsed.manifest, manifestBytes: top.bytes, manifestDesc: descOf(top, parsed.mediaType), platform: normalizePlatform(want) };
  }
  const chosen = chooseManifest(parsed.index.manifests, want, name);
  const child = await client.getManifest(ref, chosen.digest);
  if (child.bytes.length !== chosen.size) throw new ImageFormatError(`${name}: manifest ${chosen.digest} is ${child.bytes.length} bytes, index says ${chosen.size}`);
  const inner = parseManifest(child.bytes, child.mediaType || chosen.mediaType, `${name}@${chosen.digest}`);
  if (inner.kind !== 'manifest') throw new ImageFormatError(`${name}: index entry ${chosen.digest} for ${formatPlatform(want)} is itself an index`);
  assertImageManifest(inner.manifest, `${name}@${chosen.digest}`);
  const p = chosen.platform!;
  return {
    ref,
    manifest: inner.manifest,
    manifestBytes: child.bytes,
    manifestDesc: { mediaType: inner.mediaType, digest: child.digest, size: child.bytes.length, platform: p },
    index: { desc: descOf(top, parsed.mediaType), bytes: top.bytes, index: parsed.index },
    platform: normalizePlatform({ os: p.os, architecture: p.architecture, variant: p.variant }),
  };
}

/** For single-manifest images: the config's platform must fit the one asked for. */
export function checkConfigPlatform(name: string, want: Platform, config: { os: string; architecture: string; variant?: string }, explicit: boolean): Platform {
  const have = normalizePlatform({ os: config.os, architecture: config.architecture, variant: config.variant });
  if (explicit && !platformMatches(want, have)) {
    throw new ImageFormatError(`${name}: image is for ${formatPlatform(have)}, not ${formatPlatform(want)}`);
  }
  return have;
}
