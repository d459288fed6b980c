// type=tar,dest=FILE|-: the final filesystem as one tar (to stdout for "-").
import type { Writable } from 'node:stream';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Exporter } from '../../core/export/types.ts';
import { checkAttrs, requiredAttr } from '../../core/export/attrs.ts';
import { writeToDestination } from '../../core/export/destination.ts';
import { writeRootfsTar } from '../../core/export/rootfs-tar.ts';

export function tarExporter(deps: { stdout?: Writable } = {}): Exporter {
  return {
    async export(input, attrs, progress, signal) {
      checkAttrs('tar', attrs, ['dest']);
      const dest = requiredAttr('tar', attrs, 'dest');
      progress.log(`writing tar to ${dest === '-' ? 'stdout' : dest}`);
      await writeToDestination('tar', dest, deps.stdout ?? process.stdout, (out) => writeRootfsTar(input.rootfs, out, input.sourceDateEpoch, signal));
      return { notes: [`wrote ${dest === '-' ? 'stdout' : dest}`] };
    },
  };
}

export const tarExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'tar',
  description: 'the result filesystem as a tar file (dest=FILE or - for stdout)',
  init: () => tarExporter(),
};

export default tarExporterPlugin;
