// Turns raw layer tars (hostile ones included) into a single-platform OCI image in a layout dir:
// gzip layers, a config whose diff_ids match, a manifest tagged `tag`.
import { gzipSync } from 'node:zlib';
import { OciLayout } from '../../core/image/oci-layout.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { digestOf } from '../../core/content/digest.ts';
import type { Descriptor } from '../../core/image/schemas.ts';

export interface LayerBlob {
  /** The compressed blob as stored in the registry. */
  blob: Uint8Array;
  diffID: string;
}

export const gzipLayer = (tar: Uint8Array): LayerBlob => ({ blob: new Uint8Array(gzipSync(tar)), diffID: digestOf(tar) });

export async function writeLayoutImage(dir: string, tag: string, layers: LayerBlob[]): Promise<{ manifest: Descriptor; layers: Descriptor[] }> {
  const layout = new OciLayout(dir);
  layout.init();
  const put = async (mediaType: string, bytes: Uint8Array): Promise<Descriptor> => {
    const d = { mediaType, digest: digestOf(bytes), size: bytes.length };
    await layout.writeBlob(d, [bytes]);
    return d;
  };
  const descs: Descriptor[] = [];
  for (const l of layers) descs.push(await put(MediaType.ociLayerGzip, l.blob));
  const config = {
    architecture: process.arch === 'arm64' ? 'arm64' : 'amd64',
    os: 'linux',
    config: { Env: ['PATH=/usr/bin:/bin'] },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history: layers.map(() => ({ created_by: 'hostile' })),
  };
  const cfg = await put(MediaType.ociConfig, new TextEncoder().encode(JSON.stringify(config)));
  const manifest = await put(MediaType.ociManifest, new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociManifest, config: cfg, layers: descs })));
  await layout.setRef(manifest, tag);
  return { manifest, layers: descs };
}
