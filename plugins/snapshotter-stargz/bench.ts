// Lazy layer benchmark (developer tool, not shipped):
//   bun plugins/snapshotter-stargz/bench.ts [MB] [--runs N] [--no-build]
// Starts the test registry on loopback, pushes eStargz layers and measures:
//   cold  – one big file read through a fresh lazy mount vs `curl` of the same byte range (target ≥ 0.5×)
//   warm  – the same file again from a new mount over the chunk cache vs local disk (target ≥ 0.8×),
//           without and with FUSE passthrough (when the kernel offers it: ≈ 1.0×)
//   stat  – `find | xargs stat` over a 10,000-file layer vs the layer unpacked on disk (target ≤ 2×)
//   rss   – peak RSS of the edgebuild process (all its threads; VmHWM) while it builds the reference
//           example (golang hello) on an eStargz base lazily (target ≤ 150 MB). Runs
//           $EDGEBUILD_BIN (e.g. a compiled binary) or cli/main.ts under this bun; --no-build skips it.
// Ratios are medians over --runs runs (default 3), each measured back to back within one run.
// BENCH_CONFIG='{"blob":{"readahead_chunks":4}}' overrides plugin settings (JSON, config.ts names).
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { applyLayer } from "../../core/layer/apply.ts";
import { startRegistry, type TestRegistry } from "../../test/harness/registry.ts";
import { layerTar, noise, pushEstargz } from "../../test/plugins/snapshotter-stargz/helpers.ts";
import { defaultStargzConfig, type StargzConfig } from "./config.ts";
import { bytesSource, openEstargz } from "./estargz/index.ts";
import { fileCachePath } from "./lazyfs/chunks.ts";
import { StargzSnapshotter } from "./snapshotter.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, dflt: number) => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const sizeMb = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--runs") ?? 200);
const runs = option("--runs", 3);
const repo = resolve(import.meta.dir, "../..");
const work = join(tmpdir(), `edgebuild-stargz-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

async function timed(cmd: string): Promise<number> {
  const t = performance.now();
  const p = Bun.spawn(["bash", "-c", cmd], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`bench: ${cmd} failed`);
  return (performance.now() - t) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");

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

const overrides = JSON.parse(process.env.BENCH_CONFIG ?? "{}");
const config = defaultStargzConfig({ noprefetch: true, no_background_fetch: true, ...overrides });
const withPassthrough: StargzConfig = { ...config, fuse: { ...config.fuse, passthrough: true } };
const log = (m: string) => console.error(m);
const rows: string[] = [`load average at start: ${load()}`];

async function bigFile(reg: TestRegistry): Promise<void> {
  const data = fileData(sizeMb << 20);
  const big = await pushEstargz(reg.host, "bench/big", layerTar([{ name: "big.bin", data }]), { level: 1 });
  const r = await openEstargz(bytesSource(big.blob), { layerDigest: big.layer.descriptor.digest });
  const f = r.lookup("big.bin")!;
  const first = f.chunks[0].offset;
  const last = f.chunks.at(-1)!.compressedEnd;
  const url = `http://${reg.host}/v2/bench/big/blobs/${big.layer.descriptor.digest}`;
  const local = join(work, "local.bin");
  writeFileSync(local, data);
  const mbps = (sec: number) => `${((sizeMb * 1.048576) / sec).toFixed(0)} MB/s`;
  const cold: { lazy: number; curl: number }[] = [];
  const warm: { lazy: number; disk: number }[] = [];
  for (let run = 0; run < runs; run++) {
    const root = join(work, `root-big-${run}`);
    const curl = await timed(`curl -sf -o /dev/null -H 'Range: bytes=${first}-${last - 1}' ${url}`);
    let s = new StargzSnapshotter({ root, config, log });
    await s.prepareRemote("layer/big", undefined, big.layer);
    const [m] = await s.view("v1", "layer/big");
    const lazy = await timed(`cat ${m.source}/big.bin > /dev/null`);
    await s.close();
    cold.push({ lazy, curl });
    s = new StargzSnapshotter({ root, config, log });
    const [m2] = await s.view("v2", "layer/big");
    const again = await timed(`cat ${m2.source}/big.bin > /dev/null`);
    await s.close();
    const disk = await timed(`cat ${local} > /dev/null`);
    warm.push({ lazy: again, disk });
    if (run < runs - 1) rmSync(root, { recursive: true, force: true });
  }
  const c = median(cold.map((x) => x.curl / x.lazy));
  const w = median(warm.map((x) => x.disk / x.lazy));
  const cm = cold.find((x) => x.curl / x.lazy === c)!;
  const wm = warm.find((x) => x.disk / x.lazy === w)!;
  rows.push(`blob ${big.blob.length} bytes for ${data.length} bytes of file (${(data.length / big.blob.length).toFixed(1)}:1), ${f.chunks.length} chunks`);
  rows.push(`cold ${sizeMb} MiB: lazy ${cm.lazy.toFixed(2)} s (${mbps(cm.lazy)}) vs curl range ${cm.curl.toFixed(2)} s (${mbps(cm.curl)}): ${c.toFixed(2)}x (median of ${runs}: ${cold.map((x) => (x.curl / x.lazy).toFixed(2)).join(" ")}; target >= 0.5x)`);
  rows.push(`warm ${sizeMb} MiB: lazy ${wm.lazy.toFixed(2)} s (${mbps(wm.lazy)}) vs local disk ${wm.disk.toFixed(2)} s (${mbps(wm.disk)}): ${w.toFixed(2)}x (median of ${runs}: ${warm.map((x) => (x.disk / x.lazy).toFixed(2)).join(" ")}; target >= 0.8x)`);

  // Passthrough: the fetch thread assembles the whole file at mount (its chunks are all cached);
  // an OPEN after that hands the kernel the local file.
  const root = join(work, `root-big-${runs - 1}`);
  const s = new StargzSnapshotter({ root, config: withPassthrough, log });
  await s.prepareRemote("layer/big", undefined, big.layer).catch(() => {});
  const [m3] = await s.view("v3", "layer/big");
  const whole = fileCachePath(join(root, "cache"), big.layer.descriptor.digest, { offset: f.chunks[0].offset, innerOffset: f.chunks[0].innerOffset });
  for (let i = 0; i < 300 && Bun.file(whole).size !== data.length; i++) await Bun.sleep(100);
  const pt: { lazy: number; disk: number }[] = [];
  for (let run = 0; run < runs; run++) {
    const lazy = await timed(`cat ${m3.source}/big.bin > /dev/null`);
    pt.push({ lazy, disk: await timed(`cat ${local} > /dev/null`) });
  }
  const stats = (s as unknown as { layers: Map<string, { mount?: { stats(): { passthroughOpens: number; reads: number }; negotiated: { passthrough: boolean } } }> }).layers;
  const mount = [...stats.values()][0]?.mount;
  await s.close();
  const p = median(pt.map((x) => x.disk / x.lazy));
  const pm = pt.find((x) => x.disk / x.lazy === p)!;
  if (!mount?.negotiated.passthrough) rows.push(`warm ${sizeMb} MiB with passthrough: the kernel (${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}) did not offer FUSE_PASSTHROUGH`);
  else {
    rows.push(`warm ${sizeMb} MiB with passthrough: lazy ${pm.lazy.toFixed(2)} s (${mbps(pm.lazy)}) vs local disk ${pm.disk.toFixed(2)} s: ${p.toFixed(2)}x (median of ${runs}; ${mount.stats().passthroughOpens} passthrough opens, ${mount.stats().reads} reads through FUSE; target ~1.0x)`);
  }
}

async function manyFiles(reg: TestRegistry): Promise<void> {
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
  const ratios: number[] = [];
  let shown = "";
  for (let run = 0; run < runs; run++) {
    const s = new StargzSnapshotter({ root: join(work, `root-many-${run}`), config, log });
    await s.prepareRemote("layer/many", undefined, many.layer);
    const [m] = await s.view("v", "layer/many");
    const lazy = await timed(`cd ${m.source} && find . | xargs stat > /dev/null`);
    await s.close();
    const native = await timed(`cd ${unpacked} && find . | xargs stat > /dev/null`);
    ratios.push(lazy / native);
    if (lazy / native === median(ratios)) shown = `lazy ${lazy.toFixed(2)} s vs native ${native.toFixed(2)} s`;
  }
  rows.push(`find|xargs stat over 10,000 files (fresh mount): ${shown}: ${median(ratios).toFixed(2)}x slower (median of ${runs}: ${ratios.map((r) => r.toFixed(2)).join(" ")}; target <= 2x)`);
}

/** Pids of `root` and its descendants running the same executable (its threads are counted in each). */
function sameExeTree(root: number): number[] {
  const exe = (pid: number) => {
    try {
      return readlinkSync(`/proc/${pid}/exe`);
    } catch {
      return undefined;
    }
  };
  const rootExe = exe(root);
  const children = new Map<number, number[]>();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(d)]);
    } catch {
      // gone
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    if (exe(pid) === rootExe) out.push(pid);
    for (const c of children.get(pid) ?? []) walk(c);
  };
  walk(root);
  return out;
}

function hwmKb(pid: number): number {
  try {
    return Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

async function lazyBuildRss(reg: TestRegistry): Promise<void> {
  const { estargzTestImage } = await import("../../test/harness/images.ts");
  const layout = await estargzTestImage("golang");
  const base = `${reg.host}/golang:esgz`;
  const copy = Bun.spawnSync(["skopeo", "copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:latest`, `docker://${base}`], { stderr: "pipe" });
  if (copy.exitCode !== 0) throw new Error(`bench: skopeo copy failed: ${copy.stderr}`);
  const ctx = join(work, "hello");
  mkdirSync(ctx);
  writeFileSync(join(ctx, "hello.go"), 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n');
  writeFileSync(join(ctx, "Dockerfile"), `FROM ${base} AS dev\nCOPY ./hello.go /hello.go\nRUN go build -o /hello /hello.go\nFROM scratch\nCOPY --from=dev /hello /\n`);
  const out = join(work, "hello-out");
  const bin = process.env.EDGEBUILD_BIN ? [process.env.EDGEBUILD_BIN] : [process.execPath, join(repo, "cli/main.ts")];
  const t0 = performance.now();
  const p = Bun.spawn([...bin, "--root", join(work, "root-build"), "build", "--frontend", "dockerfile.v0", "--local", `context=${ctx}`, "--local", `dockerfile=${ctx}`,
    "--snapshotter", "stargz", "--progress", "plain", "--output", `type=local,dest=${out}`], { stdout: "pipe", stderr: "pipe" });
  const peaks = new Map<number, number>();
  const sampler = setInterval(() => {
    for (const pid of sameExeTree(p.pid)) peaks.set(pid, Math.max(peaks.get(pid) ?? 0, hwmKb(pid)));
  }, 25);
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  clearInterval(sampler);
  const secs = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`bench: lazy build failed (${code}):\n${err.split("\n").slice(-15).join("\n")}`);
  const hello = Bun.spawnSync([join(out, "hello")]).stdout.toString().trim();
  const lazyLine = err.split("\n").filter((l) => /lazy|fetched/i.test(l)).slice(-3).join(" | ");
  const peakMb = [...peaks.values()].reduce((a, b) => a + b, 0) / 1024;
  rows.push(`lazy reference build (${process.env.EDGEBUILD_BIN ? "binary" : "from source under bun"}): ${secs.toFixed(1)} s, hello prints "${hello}", peak RSS ${peakMb.toFixed(0)} MB over ${peaks.size} edgebuild process(es) incl. worker threads (target <= 150 MB)${lazyLine ? `; ${lazyLine}` : ""}`);
}

const reg = await startRegistry();
try {
  await bigFile(reg);
  await manyFiles(reg);
  if (!flag("--no-build")) await lazyBuildRss(reg);
} finally {
  await reg.stop();
  rmSync(work, { recursive: true, force: true });
}
rows.push(`load average at end: ${load()}`);
console.log(rows.join("\n"));
if (existsSync(work)) rmSync(work, { recursive: true, force: true });
