// Child of the restart test: mounts one lazy layer (argv: root, layer JSON), reads a file, then
// dies by SIGKILL so nothing unmounts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultStargzConfig } from "../../../plugins/snapshotter-stargz/config.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";

const [root, layerJson] = process.argv.slice(2);
const s = new StargzSnapshotter({ root, config: defaultStargzConfig({ no_background_fetch: true }), log: (m) => console.error(m) });
const r = await s.prepareRemote("layer/k", undefined, JSON.parse(layerJson));
if (!r.lazy) throw new Error(r.reason);
const [m] = await s.view("v", "layer/k");
process.stdout.write(readFileSync(join(m.source, "etc/hostname")));
process.kill(process.pid, "SIGKILL");
