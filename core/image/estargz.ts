// eStargz layers are recognised by the annotations the converter puts on their descriptors.
import type { Descriptor } from './schemas.ts';

export const TOC_DIGEST_ANNOTATION = 'containerd.io/snapshot/stargz/toc.digest';
export const UNCOMPRESSED_SIZE_ANNOTATION = 'io.containers.estargz.uncompressed-size';

/** True when the layer carries a TOC digest, i.e. it can be mounted lazily and verified. */
export function isEstargz(desc: Pick<Descriptor, 'annotations'>): boolean {
  return typeof desc.annotations?.[TOC_DIGEST_ANNOTATION] === 'string';
}

export function estargzInfo(desc: Pick<Descriptor, 'annotations'>): { tocDigest: string; uncompressedSize?: number } | undefined {
  const toc = desc.annotations?.[TOC_DIGEST_ANNOTATION];
  if (!toc) return undefined;
  const raw = desc.annotations?.[UNCOMPRESSED_SIZE_ANNOTATION];
  const n = raw === undefined ? NaN : Number(raw);
  return { tocDigest: toc, uncompressedSize: Number.isSafeInteger(n) && n >= 0 ? n : undefined };
}
