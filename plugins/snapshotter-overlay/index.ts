// snapshotter.overlay: layers unpacked into their own dirs and stacked with overlayfs.
import * as v from 'valibot';
import { DirSnapshotter } from '../../core/layer/dir-snapshotter.ts';
import type { LayerSnapshotter } from '../../core/layer/types.ts';
import { PluginDisabled, type PluginRegistration } from '../../core/plugin/types.ts';
import { overlayProblem } from './check.ts';
import { overlayDriver } from './driver.ts';

const config = v.strictObject({});

export const overlaySnapshotter: PluginRegistration<v.InferOutput<typeof config>, LayerSnapshotter> = {
  kind: 'snapshotter',
  id: 'overlay',
  description: 'layers as overlayfs lowerdirs (needs overlayfs, mknod and trusted.* xattrs)',
  config,
  async init(ctx) {
    const problem = await overlayProblem(ctx.pluginRoot);
    if (problem) throw new PluginDisabled(problem);
    return new DirSnapshotter(ctx.pluginRoot, overlayDriver());
  },
};

export default overlaySnapshotter;
