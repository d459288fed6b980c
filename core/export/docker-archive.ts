// docker-archive (what `docker save` writes since Docker 25 and what BuildKit's docker exporter
// writes): an OCI layout plus manifest.json, which `docker load` reads, pointing at the same blobs,
// and the legacy `repositories` file naming the top layer per tag.
import { familiarName, parseReference } from '../registry/reference.ts';
import type { BuiltImage } from './image-builder.ts';
import { bytesFile, type ArchiveFile } from './archive.ts';
import { blobPath, ociLayoutFiles } from './oci-layout.ts';
import { stableJsonBytes } from './stable-json.ts';

/** "foo:latest" for docker.io/library/foo:latest, as docker writes RepoTags. Digest-only names are skipped. */
export function repoTags(names: string[]): string[] {
  return names.map(parseReference).filter((r) => r.tag).map((r) => familiarName({ ...r, digest: undefined }));
}

export function dockerArchiveFiles(img: BuiltImage, names: string[]): ArchiveFile[] {
  const tags = repoTags(names);
  const layers = img.layers.map((l) => blobPath(l.descriptor.digest));
  const manifest = [{ Config: blobPath(img.config.descriptor.digest), RepoTags: tags, Layers: layers }];
  const files = [...ociLayoutFiles(img, names), bytesFile('manifest.json', stableJsonBytes(manifest))];
  const top = img.layers.at(-1);
  if (top && tags.length) {
    const repos: Record<string, Record<string, string>> = {};
    for (const t of tags) {
      const i = t.lastIndexOf(':');
      (repos[t.slice(0, i)] ??= {})[t.slice(i + 1)] = top.descriptor.digest.slice(7);
    }
    files.push(bytesFile('repositories', stableJsonBytes(repos)));
  }
  return files;
}
