// Layers stored as plain tar: digest equals diffID.
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor, Descriptor } from '../../core/export/types.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { compressToFile } from '../../core/export/compress-stream.ts';

const PLAIN_TYPES = new Set<string>([MediaType.ociLayer, MediaType.dockerLayer, MediaType.ociLayerNondistributable]);

export function uncompressedCompressor(): Compressor {
  return {
    mediaType: (oci) => (oci ? MediaType.ociLayer : MediaType.dockerLayer),
    matches: (desc: Descriptor) => PLAIN_TYPES.has(desc.mediaType),
    async compress(tar, opts) {
      const file = await compressToFile(tar, undefined, opts.tmpDir);
      return { ...file, mediaType: opts.oci ? MediaType.ociLayer : MediaType.dockerLayer };
    },
  };
}

export const uncompressedPlugin: PluginRegistration<Record<string, never>, Compressor> = {
  kind: 'compressor',
  id: 'uncompressed',
  description: 'layers as plain tar',
  init: () => uncompressedCompressor(),
};

export default uncompressedPlugin;
