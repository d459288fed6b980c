// type=oci,dest=FILE|-|DIR(tar=false),name=…: an OCI image layout, as a tarball by default.
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor, Exporter } from '../../core/export/types.ts';
import { boolAttr, checkAttrs } from '../../core/export/attrs.ts';
import { IMAGE_ATTRS } from '../../core/export/image-attrs.ts';
import { exportImageArchive } from '../../core/export/image-archive.ts';
import { ociLayoutFiles } from '../../core/export/oci-layout.ts';
import { compressorsFrom } from '../../core/export/compressors.ts';

export const OCI_ATTRS = ['dest', 'tar', 'name', ...IMAGE_ATTRS];

export function ociExporter(deps: { compressors: () => Map<string, Compressor>; tmpDir: string; stdout?: Writable }): Exporter {
  return {
    async export(input, attrs, progress, signal) {
      checkAttrs('oci', attrs, OCI_ATTRS);
      const asDirectory = !boolAttr('oci', attrs, 'tar', true);
      return exportImageArchive({ exporter: 'oci', input, attrs, ociDefault: true, asDirectory, files: ociLayoutFiles }, deps, progress, signal);
    },
  };
}

export const ociExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'oci',
  description: 'an OCI image layout tarball (dest=FILE, tar=false for a directory)',
  requires: ['compressor'],
  init: (ctx) => ociExporter({ compressors: compressorsFrom(ctx), tmpDir: join(ctx.pluginRoot, 'tmp') }),
};

export default ociExporterPlugin;
