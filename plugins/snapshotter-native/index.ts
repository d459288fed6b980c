// snapshotter.native: full copies instead of overlayfs; the fallback where overlayfs is missing
// (inside some containers, on filesystems overlayfs cannot use as upper).
import * as v from 'valibot';
import { DirSnapshotter } from '../../core/layer/dir-snapshotter.ts';
import type { LayerSnapshotter } from '../../core/layer/types.ts';
import type { PluginRegistration } from '../../core/plugin/types.ts';
import { nativeDriver } from './driver.ts';

const config = v.strictObject({});

export const nativeSnapshotter: PluginRegistration<v.InferOutput<typeof config>, LayerSnapshotter> = {
  kind: 'snapshotter',
  id: 'native',
  description: 'full copy per snapshot (cp -a with reflinks); works on any filesystem',
  config,
  init: (ctx) => new DirSnapshotter(ctx.pluginRoot, nativeDriver),
};

export default nativeSnapshotter;
