// The attributes shared by exporters that produce an image (image, oci, docker), as BuildKit names them.
import { boolAttr, ExportAttrError, intAttr } from './attrs.ts';

export const IMAGE_ATTRS = ['compression', 'compression-level', 'force-compression', 'oci-mediatypes', 'estargz-optimize'] as const;

/** Exporter types that write image layers (and so accept IMAGE_ATTRS). */
export const IMAGE_EXPORTERS: readonly string[] = ['image', 'registry', 'oci', 'docker'];

export interface ImageAttrs {
  /** Compressor plugin id: gzip, zstd, uncompressed, estargz, … */
  compression: string;
  level?: number;
  force: boolean;
  oci: boolean;
  /** Layers the exporter writes get the files build steps opened placed first, then the prefetch
   *  landmark (as `ctr-remote image optimize`). Needs compression=estargz. */
  estargzOptimize: boolean;
}

export function parseImageAttrs(exporter: string, attrs: Record<string, string>, defaults: { oci: boolean }): ImageAttrs {
  const compression = attrs.compression ?? 'gzip';
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(compression)) {
    throw new ExportAttrError(`exporter ${exporter}: attribute compression=${JSON.stringify(compression)}: expected a compressor name such as gzip, zstd, uncompressed`);
  }
  const estargzOptimize = boolAttr(exporter, attrs, 'estargz-optimize', false);
  if (estargzOptimize && compression !== 'estargz') {
    throw new ExportAttrError(`exporter ${exporter}: estargz-optimize=true needs compression=estargz (got compression=${compression})`);
  }
  return {
    compression,
    estargzOptimize,
    // Range checked per compressor (gzip 0–9, zstd up to 22).
    level: intAttr(exporter, attrs, 'compression-level', 0, 22),
    force: boolAttr(exporter, attrs, 'force-compression', false),
    oci: boolAttr(exporter, attrs, 'oci-mediatypes', defaults.oci),
  };
}
