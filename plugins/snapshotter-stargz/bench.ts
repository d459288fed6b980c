// Lazy layer benchmark (developer tool, not shipped):
//   bun plugins/snapshotter-stargz/bench.ts [MB] [--runs N] [--profile loopback,wan] [--no-build] [--only cold,floor,warm,ceiling,stat,rss]
// Pushes eStargz layers to a registry and measures:
//   cold  – one big file read through a fresh lazy mount vs `curl` of the same byte range from the
//           same registry over the same path (target ≥ 0.5×), per network profile: curl writing to
//           /dev/null and to a file on the disk that holds the chunk cache, both shown
//   warm  – the same file again from a new mount over the chunk cache vs local disk (target ≥ 0.8×),
//           without and with FUSE passthrough (when the kernel offers it: ≈ 1.0×)
//   floor – (unshaped profiles) what the cold read cannot go below in this process: Bun's fetch of the same range
//           (CPU) plus inflating and verifying every chunk (native, one reused buffer), spread
//           over all cores; the registry's CPU, cache writes and FUSE replies come on top
//   ceiling – the warm read of a trivial FUSE server (one static reply buffer written with writev,
//           no work per byte, same mount options) vs local disk: the best a server copying its
//           replies can do here (spliced replies, as lazy layers send, save one copy more)
//   stat  – `find | xargs stat` over a 10,000-file layer vs the layer unpacked on disk (target ≤ 2×)
//   rss   – peak RSS of the edgebuild process (all its threads; VmHWM) while it builds the reference
//           example (golang hello) on an eStargz base lazily (target ≤ 150 MB). Runs
//           $EDGEBUILD_BIN (e.g. a compiled binary) or cli/main.ts under this bun; --no-build skips it.
// Profiles are `edgebuild bench`'s (bench/bench.ts): loopback is the test registry on a loopback
// port; lan, wan and edge put Debian's registry in a network namespace of this bench's own
// (ebstargz-PID, 10.232.x.x) behind a veth pair with `tc tbf` and the userspace delay line, which
// curl and the lazy reads both go through. Default: loopback and wan. warm, stat and rss run on
// the first profile only (they do not depend on the network).
// Ratios are medians over --runs runs (default 3), each measured back to back within one run.
// BENCH_CONFIG='{"blob":{"readahead_chunks":4}}' overrides plugin settings (JSON, config.ts names).
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { applyLayer } from "../../core/layer/apply.ts";
import { PROFILES, type NetProfile } from "../../bench/bench.ts";
import { measureNet } from "../../bench/net/check.ts";
import { shapingProblem } from "../../bench/net/netns.ts";
import { openBenchPath } from "../../bench/net/path.ts";
import { fmtRate } from "../../bench/report/model.ts";
import { startRegistry, type TestRegistry } from "../../test/harness/registry.ts";
import { layerTar, noise, pushBlob, pushEstargz, type PushedLayer } from "../../test/plugins/snapshotter-stargz/helpers.ts";
import { defaultStargzConfig, type StargzConfig } from "./config.ts";
import { bytesSource, openEstargz } from "./estargz/index.ts";
import { fileCachePath } from "./lazyfs/chunks.ts";
import { inflateInto } from "./estargz/native-inflate.ts";
import { mountFuse } from "./fuse/mount.ts";
import { MEMFS_MODULE } from "../../test/plugins/snapshotter-stargz/fuse/harness.ts";
import { availableParallelism } from "node:os";
import { StargzSnapshotter } from "./snapshotter.ts";

const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string, dflt: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? (args[i + 1] ?? dflt) : dflt;
};
const sizeMb = Number(args.find((a, i) => /^\d+$/.test(a) && args[i - 1] !== "--runs") ?? 200);
const runs = Number(option("--runs", "3"));
/** Parts to run (default all, rss unless --no-build; cold always runs: warm reads its cache). */
const only = new Set(option("--only", "cold,floor,warm,ceiling,stat,rss").split(","));
const profiles: NetProfile[] = option("--profile", "loopback,wan").split(",").map((name) => {
  const p = PROFILES[name];
  if (!p) {
    console.error(`bench: unknown --profile ${JSON.stringify(name)} (known: ${Object.keys(PROFILES).join(", ")})`);
    process.exit(2);
  }
  return p;
});
const repo = resolve(import.meta.dir, "../..");
const work = join(tmpdir(), `edgebuild-stargz-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

async function timed(cmd: string): Promise<number> {
  const t = performance.now();
  const p = Bun.spawn(["bash", "-c", cmd], { stdout: "ignore", stderr: "inherit" });
  if ((await p.exited) !== 0) throw new Error(`bench: ${cmd} failed`);
  return (performance.now() - t) / 1000;
}

/** User+system CPU µs of waited-for children (curl, cat), from /proc/self/stat's cutime and cstime. */
function childCpu(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(f[13]) + Number(f[14])) * 1e6) / 100;
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

/** Where the bench talks to the registry for one profile. */
interface BenchNet {
  profile: NetProfile;
  host: string;
  /** Starts shaping once the layers are pushed; says how the path was set up and what it measured. */
  shape(blobPath: string): Promise<string>;
  /** Requests and bytes through the delay line since the last call (shaped profiles). */
  traffic(): string;
  close(): Promise<void>;
}

async function openNet(profile: NetProfile): Promise<BenchNet> {
  if (profile.rttMs === 0 && profile.rateBps === undefined) {
    const reg: TestRegistry = await startRegistry();
    return { profile, host: reg.host, shape: async () => "test registry on loopback, unshaped", traffic: () => "", close: () => reg.stop() };
  }
  const problem = shapingProblem();
  if (problem) throw new Error(`bench: --profile ${profile.name} needs shaping: ${problem}`);
  const path = await openBenchPath({ cacheDir: join(work, `registry-${profile.name}`), netns: { tag: "ebstargz", net: 232 } });
  const ns = path.netns!;
  return {
    profile,
    host: path.host,
    async shape(blobPath) {
      path.shape(profile.rttMs, profile.rateBps);
      const m = await measureNet(path.host, blobPath, profile.rateBps);
      path.delay.reset();
      return `registry in ${ns.name} behind veth ${ns.hostIf}, tc tbf ${profile.rateBps ? fmtRate(profile.rateBps) : "none"}, delay line ${profile.rttMs} ms; measured RTT ${m.rttMs.toFixed(1)} ms, rate ${fmtRate(m.rateBps)}`;
    },
    traffic() {
      const t = path.delay.stats();
      path.delay.reset();
      return `${t.requests} requests on ${t.connections} connections, ${(t.bytesDown / 1048576).toFixed(1)} MiB down`;
    },
    close: () => path.close(),
  };
}

interface BigLayer {
  pushed: PushedLayer;
  dataLength: number;
  chunks: number;
  /** The file's compressed byte range in the blob (what curl fetches). */
  first: number;
  firstInner: number;
  last: number;
  /** The file's chunks: compressed span in the blob, plain bytes inside it, digest. */
  spans: { offset: number; end: number; inner: number; size: number; digest: string }[];
}

async function pushBig(net: BenchNet, built?: BigLayer): Promise<BigLayer> {
  if (built) {
    const { blob, tocDigest, layer } = built.pushed;
    return { ...built, pushed: await pushBlob(net.host, "bench/big", blob, tocDigest, layer.descriptor.mediaType, layer.descriptor.annotations) };
  }
  const data = fileData(sizeMb << 20);
  const pushed = await pushEstargz(net.host, "bench/big", layerTar([{ name: "big.bin", data }]), { level: 1 });
  const r = await openEstargz(bytesSource(pushed.blob), { layerDigest: pushed.layer.descriptor.digest });
  const f = r.lookup("big.bin")!;
  writeFileSync(join(work, "local.bin"), data);
  const spans = f.chunks.map((c) => ({ offset: c.offset, end: c.compressedEnd, inner: c.innerOffset, size: c.chunkSize, digest: c.chunkDigest ?? f.digest! }));
  return { pushed, dataLength: data.length, chunks: f.chunks.length, first: f.chunks[0].offset, firstInner: f.chunks[0].innerOffset, last: f.chunks.at(-1)!.compressedEnd, spans };
}

/** The FUSE mount of the snapshotter's one lazy layer (its counters). */
function mountOf(s: StargzSnapshotter) {
  const layers = (s as unknown as { layers: Map<string, { mount?: { stats(): { passthroughOpens: number; reads: number; bytesRead: number; splicedReads: number }; negotiated: { passthrough: boolean } } }> }).layers;
  return [...layers.values()][0]?.mount;
}

const mbps = (sec: number) => `${((sizeMb * 1.048576) / sec).toFixed(0)} MB/s`;

/** Cold reads over `net`: curl to /dev/null, curl to a file next to the chunk cache, the lazy read. Returns the last run's root. */
async function coldReads(net: BenchNet, big: BigLayer, setup: string): Promise<string> {
  const layer = big.pushed.layer;
  const url = `http://${net.host}/v2/bench/big/blobs/${layer.descriptor.digest}`;
  const range = `-H 'Range: bytes=${big.first}-${big.last - 1}' ${url}`;
  const cold: { lazy: number; null: number; file: number; traffic: string; cpuLazy: number; cpuCurl: number }[] = [];
  // CPU of this process (delay line, fetch and decoder threads, FUSE workers) plus its children (cat, curl).
  const cpu = () => {
    const u = process.resourceUsage();
    return u.userCPUTime + u.systemCPUTime + childCpu();
  };
  let root = "";
  for (let run = 0; run < runs; run++) {
    if (root) rmSync(root, { recursive: true, force: true });
    root = join(work, `root-big-${net.profile.name}-${run}`);
    mkdirSync(root, { recursive: true });
    let c0 = cpu();
    const toNull = await timed(`curl -sf -o /dev/null ${range}`);
    const cpuCurl = (cpu() - c0) / 1e6;
    const out = join(root, "curl.out");
    const toFile = await timed(`curl -sf -o ${out} ${range}`);
    rmSync(out);
    net.traffic();
    const s = new StargzSnapshotter({ root, config, log });
    await s.prepareRemote("layer/big", undefined, layer);
    const [m] = await s.view("v1", "layer/big");
    c0 = cpu();
    const lazy = await timed(`cat ${m.source}/big.bin > /dev/null`);
    const cpuLazy = (cpu() - c0) / 1e6;
    const fuse = mountOf(s)?.stats();
    await s.close();
    const reads = fuse ? `${fuse.reads} FUSE reads of ${(fuse.bytesRead / fuse.reads / 1024).toFixed(0)} KiB on average, ` : "";
    cold.push({ lazy, null: toNull, file: toFile, traffic: reads + net.traffic(), cpuLazy, cpuCurl });
  }
  const ratios = (k: "null" | "file") => cold.map((x) => x[k] / x.lazy);
  const cn = median(ratios("null"));
  const cf = median(ratios("file"));
  const lz = median(cold.map((x) => x.lazy));
  const mid = cold.find((x) => x.lazy === lz)!;
  rows.push(`[${net.profile.name}] ${setup}`);
  rows.push(
    `[${net.profile.name}] cold ${sizeMb} MiB: lazy ${lz.toFixed(2)} s (${mbps(lz)}) vs curl range to /dev/null ${median(cold.map((x) => x.null)).toFixed(2)} s: ${cn.toFixed(2)}x ` +
      `(${ratios("null").map((r) => r.toFixed(2)).join(" ")}), to a file ${median(cold.map((x) => x.file)).toFixed(2)} s: ${cf.toFixed(2)}x ` +
      `(${ratios("file").map((r) => r.toFixed(2)).join(" ")}); medians of ${runs}, target >= 0.5x; ` +
      `CPU (this process + children) ${mid.cpuLazy.toFixed(2)} s lazy vs ${mid.cpuCurl.toFixed(2)} s curl${mid.traffic ? `; lazy read: ${mid.traffic.replace(/, $/, "")}` : ""}; load ${load()}`,
  );
  // Unshaped only: behind the delay line (which runs in this process) the network bounds the read.
  const shaped = net.profile.rttMs !== 0 || net.profile.rateBps !== undefined;
  if (only.has("floor") && !shaped) await coldFloor(net, big, median(cold.map((x) => x.null)));
  return root;
}

/** CPU seconds of this process (all its threads) while `fn` runs. */
async function cpuOf(fn: () => Promise<unknown> | unknown): Promise<number> {
  const u0 = process.resourceUsage();
  await fn();
  const u1 = process.resourceUsage();
  return (u1.userCPUTime + u1.systemCPUTime - u0.userCPUTime - u0.systemCPUTime) / 1e6;
}

/**
 * The cold read's floor here: Bun's fetch of the file's range (what the registry client does) and
 * inflate + sha256 of every chunk, as CPU seconds over all cores. A lower bound: the registry's own
 * CPU, the cache writes and the FUSE replies are left out.
 */
async function coldFloor(net: BenchNet, big: BigLayer, curlSec: number): Promise<void> {
  const url = `http://${net.host}/v2/bench/big/blobs/${big.pushed.layer.descriptor.digest}`;
  const headers = { Range: `bytes=${big.first}-${big.last - 1}`, "Accept-Encoding": "identity" };
  const blob = big.pushed.blob;
  const scratch = new Uint8Array(Math.max(...big.spans.map((c) => c.inner + c.size)) + (1 << 20));
  const fetchCpu: number[] = [];
  const decodeCpu: number[] = [];
  for (let run = 0; run < runs; run++) {
    fetchCpu.push(await cpuOf(async () => {
      const got = await (await fetch(url, { headers, decompress: false } as RequestInit)).arrayBuffer();
      if (got.byteLength !== big.last - big.first) throw new Error(`bench: floor fetch got ${got.byteLength} bytes`);
    }));
    decodeCpu.push(await cpuOf(() => {
      for (const c of big.spans) {
        const n = inflateInto(big.pushed.layer.descriptor.mediaType.includes("zstd") ? "zstd" : "gzip", blob.subarray(c.offset, c.end), scratch);
        if (n === undefined || n < c.inner + c.size) throw new Error("bench: native inflate unavailable or short");
        const got = `sha256:${new Bun.CryptoHasher("sha256").update(scratch.subarray(c.inner, c.inner + c.size)).digest("hex")}`;
        if (got !== c.digest) throw new Error(`bench: chunk at ${c.offset} does not match its digest`);
      }
    }));
  }
  const f = median(fetchCpu);
  const d = median(decodeCpu);
  const cores = availableParallelism();
  const best = (f + d) / cores;
  rows.push(
    `[${net.profile.name}] floor: Bun fetch of the range ${f.toFixed(2)} s CPU + inflate and sha256 of ${big.chunks} chunks ${d.toFixed(2)} s CPU ` +
      `= ${(f + d).toFixed(2)} s on ${cores} cores: lazy >= ${best.toFixed(2)} s, at best ${(curlSec / best).toFixed(2)}x curl (${curlSec.toFixed(2)} s; ` +
      `registry CPU, cache writes and FUSE replies not counted); medians of ${runs}`,
  );
}

async function warmReads(big: BigLayer, root: string): Promise<void> {
  const local = join(work, "local.bin");
  const layer = big.pushed.layer;
  const warm: { lazy: number; disk: number; cpu: number; how: string }[] = [];
  for (let run = 0; run < runs; run++) {
    const s = new StargzSnapshotter({ root, config, log });
    const [m2] = await s.view(`v2-${run}`, "layer/big");
    let again = 0;
    const cpu = await cpuOf(async () => (again = await timed(`cat ${m2.source}/big.bin > /dev/null`)));
    const st = mountOf(s)?.stats();
    await s.close();
    const disk = await timed(`cat ${local} > /dev/null`);
    warm.push({ lazy: again, disk, cpu, how: st ? `${st.reads} FUSE reads, ${st.splicedReads} spliced` : "" });
  }
  const w = median(warm.map((x) => x.disk / x.lazy));
  const wm = warm.find((x) => x.disk / x.lazy === w)!;
  rows.push(`blob ${big.pushed.blob.length} bytes for ${big.dataLength} bytes of file (${(big.dataLength / big.pushed.blob.length).toFixed(1)}:1), ${big.chunks} chunks`);
  rows.push(`warm ${sizeMb} MiB: lazy ${wm.lazy.toFixed(2)} s (${mbps(wm.lazy)}) vs local disk ${wm.disk.toFixed(2)} s (${mbps(wm.disk)}): ${w.toFixed(2)}x (median of ${runs}: ${warm.map((x) => (x.disk / x.lazy).toFixed(2)).join(" ")}; target >= 0.8x); server CPU ${wm.cpu.toFixed(2)} s; ${wm.how}`);
  if (only.has("ceiling")) await trivialServer(local);
  // Passthrough: the fetch thread assembles the whole file at mount (its chunks are all cached);
  // an OPEN after that hands the kernel the local file.
  const s = new StargzSnapshotter({ root, config: withPassthrough, log });
  await s.prepareRemote("layer/big", undefined, layer).catch(() => {});
  const [m3] = await s.view("v3", "layer/big");
  const whole = fileCachePath(join(root, "cache"), layer.descriptor.digest, { offset: big.first, innerOffset: big.firstInner });
  for (let i = 0; i < 300 && Bun.file(whole).size !== big.dataLength; i++) await Bun.sleep(100);
  const pt: { lazy: number; disk: number }[] = [];
  for (let run = 0; run < runs; run++) {
    const lazy = await timed(`cat ${m3.source}/big.bin > /dev/null`);
    pt.push({ lazy, disk: await timed(`cat ${local} > /dev/null`) });
  }
  const mount = mountOf(s);
  await s.close();
  const p = median(pt.map((x) => x.disk / x.lazy));
  const pm = pt.find((x) => x.disk / x.lazy === p)!;
  if (!mount?.negotiated.passthrough) rows.push(`warm ${sizeMb} MiB with passthrough: the kernel (${readFileSync("/proc/sys/kernel/osrelease", "utf8").trim()}) did not offer FUSE_PASSTHROUGH`);
  else {
    rows.push(`warm ${sizeMb} MiB with passthrough: lazy ${pm.lazy.toFixed(2)} s (${mbps(pm.lazy)}) vs local disk ${pm.disk.toFixed(2)} s: ${p.toFixed(2)}x (median of ${runs}; ${mount.stats().passthroughOpens} passthrough opens, ${mount.stats().reads} reads through FUSE; target ~1.0x)`);
  }
}

/** The copy path's ceiling: a FUSE server answering every READ from one static buffer (no work
 *  per byte, writev), mounted like a lazy layer, vs the local file. */
async function trivialServer(local: string): Promise<void> {
  const mnt = join(work, "trivial");
  mkdirSync(mnt, { recursive: true });
  const size = sizeMb << 20;
  const ratios: { fuse: number; disk: number }[] = [];
  for (let run = 0; run < runs; run++) {
    // A new mount each run (as the lazy warm reads): nothing in the page cache for it yet.
    const m = await mountFuse({ mountpoint: mnt, fsModule: MEMFS_MODULE, fsInit: { entries: [{ path: "/big", type: "file", content: { kind: "static", size } }] }, workers: config.fuse.workers });
    try {
      const fuse = await timed(`cat ${mnt}/big > /dev/null`);
      ratios.push({ fuse, disk: await timed(`cat ${local} > /dev/null`) });
    } finally {
      await m.unmount();
    }
  }
  const r = median(ratios.map((x) => x.disk / x.fuse));
  const rm = ratios.find((x) => x.disk / x.fuse === r)!;
  rows.push(`warm ${sizeMb} MiB ceiling of the copy path, trivial FUSE server (one static reply buffer by writev, no work per byte): ${rm.fuse.toFixed(2)} s (${mbps(rm.fuse)}) vs local disk ${rm.disk.toFixed(2)} s: ${r.toFixed(2)}x (median of ${runs}: ${ratios.map((x) => (x.disk / x.fuse).toFixed(2)).join(" ")})`);
}

async function manyFiles(reg: { host: string }): Promise<void> {
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

async function lazyBuildRss(reg: { host: string }): Promise<void> {
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

rows.push(`profiles: ${profiles.map((p) => p.name).join(", ")}; uptime: ${Bun.spawnSync(["uptime"]).stdout.toString().trim()}`);
try {
  let big: BigLayer | undefined;
  for (const [i, profile] of profiles.entries()) {
    const net = await openNet(profile);
    try {
      big = await pushBig(net, big);
      const setup = await net.shape(`/v2/bench/big/blobs/${big.pushed.layer.descriptor.digest}`);
      const root = await coldReads(net, big, setup);
      if (i === 0) {
        if (only.has("warm")) await warmReads(big, root);
        if (only.has("stat")) await manyFiles(net);
        if (only.has("rss") && !flag("--no-build")) await lazyBuildRss(net);
      }
      rmSync(root, { recursive: true, force: true });
    } finally {
      await net.close();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
rows.push(`load average at end: ${load()}; uptime: ${Bun.spawnSync(["uptime"]).stdout.toString().trim()}`);
console.log(rows.join("\n"));
