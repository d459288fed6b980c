// Compressed blobs of step layers for cache export. A step's diff is made and compressed once per
// (snapshot, compression); the result goes into the content store and a small memo file, so a
// later export of the same step (another ref, mode=max after min) reuses it.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ContentStore } from '../content/store.ts';
import type { Compressor, Descriptor } from '../export/types.ts';
import type { LayerRecord, Worker } from '../solver/worker.ts';

export interface StepBlob {
  descriptor: Descriptor;
  diffID: string;
}

export interface LayerBlobDeps {
  worker: Pick<Worker, 'root' | 'diff'>;
  store: ContentStore;
  compressors: Map<string, Compressor>;
}

const inflight = new Map<string, Promise<StepBlob>>();

export function stepBlob(layer: LayerRecord, compression: string, deps: LayerBlobDeps): Promise<StepBlob> {
  const memoKey = createHash('sha256').update(`${deps.worker.root}\0${layer.snapshot}\0${layer.parent ?? ''}\0${compression}`).digest('hex');
  let p = inflight.get(memoKey);
  if (!p) {
    p = makeStepBlob(layer, compression, deps, memoKey).finally(() => inflight.delete(memoKey));
    inflight.set(memoKey, p);
  }
  return p;
}

async function makeStepBlob(layer: LayerRecord, compression: string, deps: LayerBlobDeps, memoKey: string): Promise<StepBlob> {
  const dir = join(deps.worker.root, 'cache', 'blobs');
  const memo = join(dir, `${memoKey}.json`);
  try {
    const m = JSON.parse(fs.readFileSync(memo, 'utf8')) as StepBlob;
    if (await deps.store.has(m.descriptor.digest)) return m;
  } catch {
    // no memo yet
  }
  const compressor = deps.compressors.get(compression);
  if (!compressor) throw new Error(`cache export: unknown compression ${JSON.stringify(compression)} (have ${[...deps.compressors.keys()].join(', ')})`);
  const tar = await deps.worker.diff(layer.snapshot, layer.parent, {});
  const tmpDir = join(deps.worker.root, 'tmp');
  const c = await compressor.compress(tar, { oci: true, tmpDir });
  try {
    await deps.store.ingest({ digest: c.digest, size: c.size }, async (offset) => Bun.file(c.path).slice(offset).stream());
  } finally {
    fs.rmSync(c.path, { force: true });
  }
  const out: StepBlob = { descriptor: { mediaType: c.mediaType, digest: c.digest, size: c.size, ...(c.annotations ? { annotations: c.annotations } : {}) }, diffID: c.diffID };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(`${memo}.tmp`, JSON.stringify(out));
  fs.renameSync(`${memo}.tmp`, memo);
  return out;
}
