// type=docker,dest=FILE|-,name=…: a tarball `docker load` accepts (Docker schema2 media types by
// default, as BuildKit's docker exporter writes).
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor, Exporter } from '../../core/export/types.ts';
import { checkAttrs } from '../../core/export/attrs.ts';
import { IMAGE_ATTRS } from '../../core/export/image-attrs.ts';
import { exportImageArchive } from '../../core/export/image-archive.ts';
import { dockerArchiveFiles } from '../../core/export/docker-archive.ts';
import { compressorsFrom } from '../../core/export/compressors.ts';

export const DOCKER_ATTRS = ['dest', 'name', ...IMAGE_ATTRS];

export function dockerExporter(deps: { compressors: () => Map<string, Compressor>; tmpDir: string; stdout?: Writable }): Exporter {
  return {
    async export(input, attrs, progress, signal) {
      checkAttrs('docker', attrs, DOCKER_ATTRS);
      return exportImageArchive({ exporter: 'docker', input, attrs, ociDefault: false, asDirectory: false, files: dockerArchiveFiles }, deps, progress, signal);
    },
  };
}

export const dockerExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'docker',
  description: 'a docker-archive tarball for `docker load` (dest=FILE or -, name=REF)',
  requires: ['compressor'],
  init: (ctx) => dockerExporter({ compressors: compressorsFrom(ctx), tmpDir: join(ctx.pluginRoot, 'tmp') }),
};

export default dockerExporterPlugin;
