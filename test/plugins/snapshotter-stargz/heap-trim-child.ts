// Run by heap-trim.test.ts in a process of its own (a test runner's heap, grown by earlier test
// files, does not show a few MB of growth): prints the heap growth after 24 MB of ArrayBuffers
// were allocated, and again once they are dead and trimOnGrowth had time to act.
import { heapSize } from "bun:jsc";
import { trimOnGrowth } from "../../../plugins/snapshotter-stargz/heap-trim.ts";

Bun.gc(true);
const start = heapSize();
trimOnGrowth(4 << 20, 20);
let dead: Uint8Array[] = [];
for (let i = 0; i < 12; i++) dead.push(new Uint8Array(2 << 20).fill(i));
const grew = heapSize() - start;
dead = [];
for (let i = 0; i < 25 && heapSize() - start > 4 << 20; i++) await Bun.sleep(20);
console.log(JSON.stringify({ grew, after: heapSize() - start }));
process.exit(0);
