// Cold pull benchmark: edgebuild pull into an empty store vs `skopeo copy docker://… oci:DIR`,
// against a loopback distribution registry holding a ≥200 MB multi-layer gzip image. Also
// compares Bun's fetch with undici for streaming one big blob. Run: npx bun bench/pull.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { request } from 'undici';
import { startRegistry } from '../test/harness/registry.ts';
import { buildImage, skopeoOk } from '../test/harness/registry-images.ts';
import { RegistryClient } from '../core/registry/client.ts';
import { ContentStore } from '../core/content/store.ts';
import { ImageStore } from '../core/content/images.ts';
import { pullImage } from '../core/image/pull.ts';

// Child mode: one cold pull in a fresh process, as a user would run it.
if (process.argv[2] === '__pull') {
  const [ref, root] = process.argv.slice(3);
  await pullImage(ref, { client: new RegistryClient(), store: new ContentStore(root), images: new ImageStore(root) });
  process.exit(0);
}

const RUNS = Number(process.env.RUNS ?? 5);
const LAYERS = Number(process.env.LAYERS ?? 4);
const LAYER_MB = Number(process.env.LAYER_MB ?? 100);

/** Half random, half repetitive text: compresses to roughly 55%. */
function compressible(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const text = new TextEncoder().encode('edgebuild benchmark line with some repeated words '.repeat(80));
  for (let off = 0; off < size; off += 8192) {
    const rnd = randomBytes(4096);
    out.set(rnd.subarray(0, Math.min(4096, size - off)), off);
    if (off + 4096 < size) out.set(text.subarray(0, Math.min(4096, size - off - 4096)), off + 4096);
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (n: number) => (n / 1e6).toFixed(1);

async function time(fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const reg = await startRegistry();
try {
  console.log(`building ${LAYERS} layers of ${LAYER_MB} MB uncompressed…`);
  const layers = Array.from({ length: LAYERS }, () => ({ 'data.bin': compressible(LAYER_MB * 1_000_000) }));
  const img = await buildImage({ layers });
  const m = img.manifests[0];
  const total = m.layers.reduce((a, l) => a + l.size, 0) + m.config.size;
  console.log(`image: ${m.layers.length} gzip layers, ${mb(total)} MB compressed`);
  const ref = `${reg.host}/bench/big:1`;
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${ref}`);

  const ours: number[] = [];
  const theirs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const root = mkdtempSync(join(tmpdir(), 'eb-bench-root-'));
    ours.push(
      await time(async () => {
        const p = Bun.spawn([process.execPath, import.meta.path, '__pull', ref, root], { stdout: 'inherit', stderr: 'inherit' });
        if ((await p.exited) !== 0) throw new Error('edgebuild pull failed');
      }),
    );
    rmSync(root, { recursive: true, force: true });
    const out = mkdtempSync(join(tmpdir(), 'eb-bench-oci-'));
    theirs.push(await time(() => void skopeoOk('copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${out}:x`)));
    rmSync(out, { recursive: true, force: true });
    console.log(`run ${i + 1}: edgebuild ${ours[i].toFixed(2)}s, skopeo ${theirs[i].toFixed(2)}s`);
  }
  const a = median(ours);
  const b = median(theirs);
  console.log(`cold pull of ${mb(total)} MB, median of ${RUNS}: edgebuild ${a.toFixed(2)}s (${mb(total / a)} MB/s), skopeo ${b.toFixed(2)}s (${mb(total / b)} MB/s), ratio ${(a / b).toFixed(2)}×`);

  // Bun fetch vs undici for one big blob (hashing as the store does, no disk).
  const big = m.layers[0];
  const url = `http://${reg.host}/v2/bench/big/blobs/${big.digest}`;
  const viaFetch: number[] = [];
  const viaUndici: number[] = [];
  for (let i = 0; i < 3; i++) {
    viaFetch.push(
      await time(async () => {
        const h = new Bun.CryptoHasher('sha256');
        const res = await fetch(url);
        for await (const c of res.body!) h.update(c);
      }),
    );
    viaUndici.push(
      await time(async () => {
        const h = new Bun.CryptoHasher('sha256');
        const res = await request(url);
        for await (const c of res.body) h.update(c as Uint8Array);
      }),
    );
  }
  const f = median(viaFetch);
  const u = median(viaUndici);
  console.log(`one ${mb(big.size)} MB blob, median of 3: Bun fetch ${mb(big.size / f)} MB/s, undici ${mb(big.size / u)} MB/s`);
  rmSync(img.dir, { recursive: true, force: true });
} finally {
  await reg.stop();
}
