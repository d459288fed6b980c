// Lazy layer benchmark (developer tool, not shipped): `bun plugins/snapshotter-stargz/bench.ts [MB]`.
// Starts the test registry on loopback, pushes eStargz layers and measures:
//   cold  – one big file read through a fresh lazy mount vs `curl` of the same byte range (target ≥ 0.5×)
//   warm  – the same file again from a new mount over the chunk cache vs local disk (target ≥ 0.8×)
//   stat  – `find | xargs stat` over a 10,000-file layer vs the layer unpacked on disk (target ≤ 2×)
// BENCH_CONFIG='{"fuse":{"passthrough":true}}' overrides plugin settings (JSON, config.ts names).
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyLayer } from "../../core/layer/apply.ts";
import { startRegistry } from "../../test/harness/registry.ts";
import { layerTar, noise, pushEstargz } from "../../test/plugins/snapshotter-stargz/helpers.ts";
import { defaultStargzConfig } from "./config.ts";
import { bytesSource, openEstargz } from "./estargz/index.ts";
import { StargzSnapshotter } from "./snapshotter.ts";

const sizeMb = Number(process.argv[2] ?? 200);
const work = join(tmpdir(), `edgebuild-stargz-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

async function timed(cmd: string): Promise<number> {
  const t = performance.now();
  const p = Bun.spawn(["bash", "-c", cmd], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`bench: ${cmd} failed`);
  return (performance.now() - t) / 1000;
}

/** Words picked at random: compresses about 3:1, like the binaries and libraries in base images. */
function fileData(size: number): Uint8Array {
  const words = "lazy pull estargz chunk verify registry overlay snapshot layer builder fuse kernel page cache inode".split(" ").map((w) => new TextEncoder().encode(`${w} `));
  const pick = noise(size >> 2, 9);
  const out = new Uint8Array(size);
  for (let at = 0, i = 0; at < size; i++) {
    const w = words[pick[i % pick.length] % words.length];
    out.set(w.subarray(0, Math.min(w.length, size - at)), at);
    at += w.length;
  }
  return out;
}

const config = defaultStargzConfig({ noprefetch: true, no_background_fetch: true, ...JSON.parse(process.env.BENCH_CONFIG ?? "{}") });
const reg = await startRegistry();
const log = (m: string) => console.error(m);
const rows: string[] = [];
try {
  // 1. One big file, cold and warm.
  const data = fileData(sizeMb << 20);
  const big = await pushEstargz(reg.host, "bench/big", layerTar([{ name: "big.bin", data }]), { level: 1 });
  const r = await openEstargz(bytesSource(big.blob), { layerDigest: big.layer.descriptor.digest });
  const f = r.lookup("big.bin")!;
  const first = f.chunks[0].offset;
  const last = f.chunks.at(-1)!.compressedEnd;
  const url = `http://${reg.host}/v2/bench/big/blobs/${big.layer.descriptor.digest}`;
  const curl = await timed(`curl -sf -o /dev/null -H 'Range: bytes=${first}-${last - 1}' ${url}`);

  const root = join(work, "root");
  let s = new StargzSnapshotter({ root, config, log });
  await s.prepareRemote("layer/big", undefined, big.layer);
  const [m] = await s.view("v1", "layer/big");
  const cold = await timed(`cat ${m.source}/big.bin > /dev/null`);
  await s.close();
  s = new StargzSnapshotter({ root, config, log });
  const [m2] = await s.view("v2", "layer/big");
  const warm = await timed(`cat ${m2.source}/big.bin > /dev/null`);
  await s.close();
  const local = join(work, "local.bin");
  writeFileSync(local, data);
  const disk = await timed(`cat ${local} > /dev/null`);
  const mbps = (sec: number) => `${((sizeMb * 1.048576) / sec).toFixed(0)} MB/s`;
  rows.push(`blob ${big.blob.length} bytes for ${data.length} bytes of file (${(data.length / big.blob.length).toFixed(1)}:1)`);
  rows.push(`cold ${sizeMb} MiB: lazy ${cold.toFixed(2)} s (${mbps(cold)}) vs curl range ${curl.toFixed(2)} s (${mbps(curl)}): ${(curl / cold).toFixed(2)}x (target >= 0.5x)`);
  rows.push(`warm ${sizeMb} MiB: lazy ${warm.toFixed(2)} s (${mbps(warm)}) vs local disk ${disk.toFixed(2)} s (${mbps(disk)}): ${(disk / warm).toFixed(2)}x (target >= 0.8x)`);

  // 2. Metadata: 10,000 files.
  const specs = [];
  for (let d = 0; d < 100; d++) {
    specs.push({ name: `d${d}`, type: "dir" as const });
    for (let i = 0; i < 100; i++) specs.push({ name: `d${d}/f${i}`, data: `file ${d}/${i}\n` });
  }
  const tar = layerTar(specs);
  const many = await pushEstargz(reg.host, "bench/many", tar);
  const unpacked = join(work, "unpacked");
  mkdirSync(unpacked);
  await applyLayer(unpacked, [tar], { mode: "native" });
  s = new StargzSnapshotter({ root: join(work, "root2"), config, log });
  await s.prepareRemote("layer/many", undefined, many.layer);
  const [m3] = await s.view("v3", "layer/many");
  const lazyStat = await timed(`cd ${m3.source} && find . | xargs stat > /dev/null`);
  await s.close();
  const nativeStat = await timed(`cd ${unpacked} && find . | xargs stat > /dev/null`);
  rows.push(`find|xargs stat over 10,000 files: lazy ${lazyStat.toFixed(2)} s vs native ${nativeStat.toFixed(2)} s: ${(lazyStat / nativeStat).toFixed(2)}x slower (target <= 2x)`);
} finally {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
console.log(rows.join("\n"));
