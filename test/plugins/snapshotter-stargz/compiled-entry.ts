// Entry of the compiled-binary test: mounts one lazy layer (argv: root, layer JSON), reads a file
// with a synchronous call on the main thread, prints its sha256 and the READs answered by splice,
// and closes; twice.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultStargzConfig } from "../../../plugins/snapshotter-stargz/config.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";

const [root, layerJson, file] = process.argv.slice(2);
if (!root || !layerJson || !file) throw new Error("compiled-entry.ts: usage: <binary> <root> <layer-json> <file>");
// Twice: the first read fetches (a handler worker answers), the second, through a new mount over
// the chunk cache, is answered by the reader thread with spliced replies.
for (const pass of [1, 2]) {
  const s = new StargzSnapshotter({ root, config: defaultStargzConfig({ no_background_fetch: true }), log: (m) => console.error(m) });
  try {
    const r = await s.prepareRemote(`layer/x${pass}`, undefined, JSON.parse(layerJson));
    if (!r.lazy) throw new Error(r.reason);
    const [m] = await s.view(`v${pass}`, `layer/x${pass}`);
    const hash = createHash("sha256").update(readFileSync(join(m.source, file))).digest("hex");
    const layers = (s as unknown as { layers: Map<string, { mount?: { stats(): { splicedReads: number } } }> }).layers;
    console.log(hash, [...layers.values()].reduce((n, l) => n + (l.mount?.stats().splicedReads ?? 0), 0));
  } finally {
    await s.close();
  }
}
