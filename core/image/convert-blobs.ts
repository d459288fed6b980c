// Blob plumbing for conversion: read a source blob into a local file with its digest checked, and
// an ImageSource that serves freshly written blobs (converted layers, new config) to a destination
// while passing everything else through to the original source (so registry mounts still work).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Descriptor } from './schemas.ts';
import type { ImageSource } from './transports.ts';
import { ImageFormatError } from './manifest.ts';

/** Streams `desc` from `src` into a temp file, failing (and removing it) on size or digest mismatch. */
export async function fetchBlobToFile(src: ImageSource, desc: Descriptor, tmpDir: string): Promise<string> {
  const path = join(tmpDir, `src-${randomBytes(8).toString('hex')}.tmp`);
  const h = new Bun.CryptoHasher('sha256');
  let n = 0;
  const check = new Transform({
    transform(chunk: Buffer, _e, done) {
      n += chunk.length;
      h.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb((await src.blob(desc)) as import('node:stream/web').ReadableStream<Uint8Array>), check, createWriteStream(path));
    if (n !== desc.size) throw new ImageFormatError(`layer ${desc.digest} from ${src.name}: got ${n} bytes, expected ${desc.size}`);
    const actual = `sha256:${h.digest('hex')}`;
    if (actual !== desc.digest) throw new ImageFormatError(`layer ${desc.digest} from ${src.name}: content has digest ${actual} (corrupt or altered)`);
  } catch (e) {
    await rm(path, { force: true });
    throw e;
  }
  return path;
}

/** `src` plus blobs held locally (temp files or bytes), looked up by digest first. */
export function overlaySource(src: ImageSource, local: Map<string, { path: string } | { bytes: Uint8Array }>): ImageSource {
  return {
    name: src.name,
    top: () => src.top(),
    manifest: (d) => src.manifest(d),
    repo: src.repo,
    async blob(desc) {
      const l = local.get(desc.digest);
      if (!l) return src.blob(desc);
      return ('path' in l ? Bun.file(l.path).stream() : new Response(l.bytes).body!) as ReadableStream<Uint8Array>;
    },
    blobFile(desc) {
      const l = local.get(desc.digest);
      if (l) return 'path' in l ? Bun.file(l.path) : new Blob([l.bytes]);
      // A registry source has no local file: destinations then stream from blob() instead.
      return src.blobFile?.(desc) as Blob;
    },
  };
}
