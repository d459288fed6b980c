// type=local,dest=DIR: the final filesystem copied into DIR. Like BuildKit it merges into an
// existing DIR; unlike a plain copy, everything is first copied to a sibling and then renamed into
// place, so a failure leaves DIR as it was.
import { lstat, rm } from 'node:fs/promises';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import type { Exporter } from '../../core/export/types.ts';
import { checkAttrs, requiredAttr } from '../../core/export/attrs.ts';
import { tempSibling, writeAtomically } from '../../core/export/atomic.ts';
import { copyTree } from '../../core/export/copy-tree.ts';
import { mergeInto } from '../../core/export/merge-into.ts';

export function localExporter(): Exporter {
  return {
    async export(input, attrs, progress, signal) {
      checkAttrs('local', attrs, ['dest']);
      const dest = requiredAttr('local', attrs, 'dest');
      const st = await lstat(dest).catch(() => undefined);
      if (st && !st.isDirectory()) throw new Error(`exporter local: dest ${dest} exists and is not a directory`);
      progress.log(`copying files to ${dest}`);
      if (!st) {
        await writeAtomically(dest, (tmp) => copyTree(input.rootfs, tmp, input.sourceDateEpoch, signal));
        return { notes: [`wrote ${dest}`] };
      }
      const tmp = tempSibling(dest);
      try {
        await copyTree(input.rootfs, tmp, input.sourceDateEpoch, signal);
      } catch (e) {
        await rm(tmp, { recursive: true, force: true });
        throw e;
      }
      await mergeInto(tmp, dest);
      return { notes: [`merged into existing ${dest}`] };
    },
  };
}

export const localExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'local',
  description: 'copy the result filesystem to a directory (dest=DIR)',
  init: () => localExporter(),
};

export default localExporterPlugin;
