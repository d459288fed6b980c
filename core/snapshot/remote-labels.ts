// The label contract of containerd's remote snapshotters. containerd's unpacker prepares each
// layer as "extract-… <chainID>" with containerd.io/snapshot.ref = <chainID> plus the layer
// descriptor's "containerd.io/snapshot/…" annotations. Pull handlers add where the layer lives:
// stargz-snapshotter's (ctr-remote, nerdctl) stargz.reference/.digest/.layers, CRI's
// cri.image-ref/cri.layer-digest. A snapshotter that can present the layer remotely commits
// <chainID> itself and answers ALREADY_EXISTS, so containerd skips download and unpack.
import { parseReference } from '../registry/reference.ts';
import type { RemoteLayer } from './types.ts';

export const SNAPSHOT_REF_LABEL = 'containerd.io/snapshot.ref';
export const STARGZ_REFERENCE_LABEL = 'containerd.io/snapshot/remote/stargz.reference';
export const STARGZ_DIGEST_LABEL = 'containerd.io/snapshot/remote/stargz.digest';
export const STARGZ_LAYERS_LABEL = 'containerd.io/snapshot/remote/stargz.layers';
export const CRI_IMAGE_REF_LABEL = 'containerd.io/snapshot/cri.image-ref';
export const CRI_LAYER_DIGEST_LABEL = 'containerd.io/snapshot/cri.layer-digest';
export const TOC_DIGEST_LABEL = 'containerd.io/snapshot/stargz/toc.digest';
/** Set by edgebuild's own client, which knows them from the manifest (saves a HEAD request). */
export const EDGEBUILD_SIZE_LABEL = 'containerd.io/snapshot/remote/edgebuild.size';
export const EDGEBUILD_MEDIATYPE_LABEL = 'containerd.io/snapshot/remote/edgebuild.mediatype';
export const EDGEBUILD_DIFFID_LABEL = 'containerd.io/snapshot/remote/edgebuild.diffid';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export interface RemoteSource {
  /** The committed snapshot name containerd asked for (the layer's chainID key). */
  target: string;
  imageRef: string;
  registry: string;
  repository: string;
  digest: string;
  tocDigest?: string;
  size?: number;
  mediaType?: string;
  diffID?: string;
}

/** Where a layer lives, from Prepare labels; undefined when they do not describe a remote layer.
 *  Labels that claim to but are malformed are an error naming the label. */
export function remoteSourceOf(labels: Record<string, string>): RemoteSource | undefined {
  const target = labels[SNAPSHOT_REF_LABEL];
  const ref = labels[STARGZ_REFERENCE_LABEL] ?? labels[CRI_IMAGE_REF_LABEL];
  const digest = labels[STARGZ_DIGEST_LABEL] ?? labels[CRI_LAYER_DIGEST_LABEL];
  if (!target || !ref || !digest) return undefined;
  if (!DIGEST.test(digest)) throw new Error(`label ${STARGZ_DIGEST_LABEL}: ${JSON.stringify(digest)} is not a sha256 digest`);
  const toc = labels[TOC_DIGEST_LABEL];
  if (toc !== undefined && !DIGEST.test(toc)) throw new Error(`label ${TOC_DIGEST_LABEL}: ${JSON.stringify(toc)} is not a sha256 digest`);
  let parsed;
  try {
    parsed = parseReference(ref);
  } catch (e) {
    throw new Error(`label ${STARGZ_REFERENCE_LABEL}: ${(e as Error).message}`);
  }
  const sizeLabel = labels[EDGEBUILD_SIZE_LABEL];
  const size = sizeLabel === undefined ? undefined : Number(sizeLabel);
  if (size !== undefined && !(Number.isSafeInteger(size) && size >= 0)) throw new Error(`label ${EDGEBUILD_SIZE_LABEL}: ${JSON.stringify(sizeLabel)} is not a byte count`);
  return {
    target,
    imageRef: ref,
    registry: parsed.registry,
    repository: parsed.repository,
    digest,
    tocDigest: toc,
    size,
    mediaType: labels[EDGEBUILD_MEDIATYPE_LABEL],
    diffID: labels[EDGEBUILD_DIFFID_LABEL],
  };
}

/** Labels edgebuild's proxy client sends so the server can mount `layer` as `target`. */
export function remoteLabelsFor(target: string, layer: RemoteLayer): Record<string, string> {
  const toc = layer.descriptor.annotations?.[TOC_DIGEST_LABEL];
  return {
    [SNAPSHOT_REF_LABEL]: target,
    [STARGZ_REFERENCE_LABEL]: `${layer.registry}/${layer.repository}@${layer.descriptor.digest}`,
    [STARGZ_DIGEST_LABEL]: layer.descriptor.digest,
    [EDGEBUILD_SIZE_LABEL]: String(layer.descriptor.size),
    [EDGEBUILD_MEDIATYPE_LABEL]: layer.descriptor.mediaType,
    ...(toc ? { [TOC_DIGEST_LABEL]: toc } : {}),
    ...(layer.diffID ? { [EDGEBUILD_DIFFID_LABEL]: layer.diffID } : {}),
  };
}
