// Filesystem checks for "nothing was stored" assertions.
import { readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

/** Blob files in a content store root (empty when the store was never created). */
export function storedBlobs(root: string): string[] {
  const dir = join(root, 'content', 'blobs', 'sha256');
  return existsSync(dir) ? readdirSync(dir) : [];
}

export function storedImages(root: string): string[] {
  const dir = join(root, 'images');
  return existsSync(dir) ? readdirSync(dir) : [];
}
