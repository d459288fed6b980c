// Entry of the compiled-binary test: mounts one lazy layer (argv: root, layer JSON), reads a file
// with a synchronous call on the main thread, prints its sha256, and closes.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultStargzConfig } from "../../../plugins/snapshotter-stargz/config.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";

const [root, layerJson, file] = process.argv.slice(2);
if (!root || !layerJson || !file) throw new Error("compiled-entry.ts: usage: <binary> <root> <layer-json> <file>");
const s = new StargzSnapshotter({ root, config: defaultStargzConfig({ no_background_fetch: true }), log: (m) => console.error(m) });
try {
  const r = await s.prepareRemote("layer/x", undefined, JSON.parse(layerJson));
  if (!r.lazy) throw new Error(r.reason);
  const [m] = await s.view("v", "layer/x");
  console.log(createHash("sha256").update(readFileSync(join(m.source, file))).digest("hex"));
} finally {
  await s.close();
}
