// Copies an image between transports with manifests and blobs byte-identical: blobs first (in
// parallel), then child manifests, then the top manifest and its name. Without --all an index is
// narrowed to one platform's manifest, copied as is.
import { parseManifest, assertImageManifest, ImageFormatError } from './manifest.ts';
import { chooseManifest, hostPlatform, type Platform } from './platform.ts';
import { mapLimit } from '../registry/limit.ts';
import type { Descriptor, ImageManifest } from './schemas.ts';
import type { ImageDestination, ImageSource } from './transports.ts';
import { digestOf } from '../content/digest.ts';
import { withContext } from './errors.ts';

export interface CopyOptions {
  all?: boolean;
  platform?: Platform;
  concurrency?: number;
  onBlob?: (desc: Descriptor, how: 'exists' | 'mounted' | 'copied') => void;
}

export interface CopyResult {
  digest: string;
  mediaType: string;
  blobs: Record<'exists' | 'mounted' | 'copied', number>;
}

export async function copyImage(src: ImageSource, dst: ImageDestination, opts: CopyOptions = {}): Promise<CopyResult> {
  const counts = { exists: 0, mounted: 0, copied: 0 };
  const copyBlobs = async (manifest: ImageManifest) => {
    const seen = new Set<string>();
    const blobs = [manifest.config, ...manifest.layers].filter((d) => !seen.has(d.digest) && seen.add(d.digest));
    await mapLimit(blobs, opts.concurrency ?? 4, async (d) => {
      const how = await dst.putBlob(d, src);
      counts[how]++;
      opts.onBlob?.(d, how);
    });
  };
  try {
    const top = await src.top();
    const parsed = parseManifest(top.bytes, top.mediaType, src.name);
    if (parsed.kind === 'manifest') {
      assertImageManifest(parsed.manifest, src.name);
      await copyBlobs(parsed.manifest);
      await dst.commit({ mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length }, top.bytes);
      return { digest: top.digest, mediaType: parsed.mediaType, blobs: counts };
    }
    const children = opts.all ? parsed.index.manifests : [chooseManifest(parsed.index.manifests, opts.platform ?? hostPlatform(), src.name)];
    const fetched: { desc: Descriptor; bytes: Uint8Array; mediaType: string }[] = [];
    for (const desc of children) {
      const bytes = await src.manifest(desc);
      if (digestOf(bytes) !== desc.digest || bytes.length !== desc.size) throw new ImageFormatError(`${src.name}: manifest ${desc.digest} does not match its index entry`);
      const child = parseManifest(bytes, desc.mediaType, `${src.name}@${desc.digest}`);
      if (child.kind !== 'manifest') throw new ImageFormatError(`${src.name}: nested index ${desc.digest} is not supported`);
      assertImageManifest(child.manifest, `${src.name}@${desc.digest}`);
      await copyBlobs(child.manifest);
      fetched.push({ desc, bytes, mediaType: child.mediaType });
    }
    if (!opts.all) {
      const only = fetched[0];
      const { platform: _p, annotations: _a, ...d } = only.desc;
      await dst.commit({ ...d, mediaType: only.mediaType }, only.bytes);
      return { digest: only.desc.digest, mediaType: only.mediaType, blobs: counts };
    }
    for (const f of fetched) await dst.putChildManifest({ ...f.desc, mediaType: f.mediaType }, f.bytes);
    await dst.commit({ mediaType: parsed.mediaType, digest: top.digest, size: top.bytes.length }, top.bytes);
    return { digest: top.digest, mediaType: parsed.mediaType, blobs: counts };
  } catch (e) {
    throw withContext(e, `copy ${src.name} to ${dst.name}`, src.name);
  }
}
