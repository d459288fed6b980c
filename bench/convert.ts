// Conversion benchmark: `edgebuild convert --estargz --oci` vs `ctr-remote image convert --estargz
// --oci` (the reference, Debian's stargz-snapshotter) on the golang test image (≥ 200 MB
// uncompressed), both from local storage. Reports MB/s of uncompressed input (median of RUNS),
// the ratio, and the total compressed size of the layers at the same gzip level. ctr-remote needs a
// containerd: one is started with its own root/state and a unix socket under a temp dir. Without
// ctr-remote the reference's estargz.Build (through the Go interop checker) is used instead.
// Then, per layer, where the size difference comes from (bench/estargz-size.ts): edgebuild's member
// bytes put through the reference's codec (Go compress/gzip), the TOC/member-cut/tar-header checks,
// and a table of zlib levels against the reference's level.
// Run by hand: npx bun bench/convert.ts   (RUNS=5 LEVEL=9 by default; DECOMPOSE=0 skips the
// decomposition, ZLIB_LEVELS=6,7,8,9 picks the level table's rows, "" for none)
import { createWriteStream, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { testImage } from '../test/harness/images.ts';
import { buildChecker, goBuild } from '../test/interop/estargz-check/build-checker.ts';
import { printSizeDecomposition } from './estargz-size.ts';
import { convertImage } from '../core/image/convert.ts';
import { ociSource, ociDestination } from '../core/image/transports.ts';
import { OciLayout } from '../core/image/oci-layout.ts';

const RUNS = Number(process.env.RUNS ?? 5);
const LEVEL = Number(process.env.LEVEL ?? 9);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const mb = (n: number) => n / 1e6;
const load = () => `load ${(Bun.spawnSync(['uptime']).stdout.toString().split('load average:')[1] ?? '?').trim()}`;
const hexPath = (dir: string, digest: string) => join(dir, 'blobs/sha256', digest.replace(/^sha256:/, ''));

const src = await testImage('golang');
const layout = new OciLayout(src);
const manifest = JSON.parse(new TextDecoder().decode(await layout.readBlob((await layout.resolve('latest')).digest)));
const work = mkdtempSync(join(tmpdir(), 'eb-bench-convert-'));

/** Uncompressed bytes of every layer (the input the converters read). */
let uncompressed = 0;
for (const l of manifest.layers) {
  for await (const c of Readable.from(Bun.file(layout.blobPath(l.digest)).stream() as never).pipe(createGunzip())) uncompressed += (c as Buffer).length;
}
console.log(`image: golang test image, ${manifest.layers.length} layers, ${mb(uncompressed).toFixed(1)} MB uncompressed; gzip level ${LEVEL}; ${availableParallelism()} cores; ${load()}`);

/** Layer blobs of the last run, in manifest order. */
async function ours(): Promise<{ secs: number; size: number; blobs: string[] }> {
  const out = join(work, 'ours');
  rmSync(out, { recursive: true, force: true });
  const t0 = performance.now();
  const r = await convertImage(ociSource(src, 'latest'), ociDestination(out, 'esgz'), { format: 'gzip', oci: true, level: LEVEL, workers: availableParallelism(), tmpDir: work });
  const secs = (performance.now() - t0) / 1000;
  const layers = r.manifests[0].layers;
  return { secs, size: layers.reduce((a, l) => a + l.to.size, 0), blobs: layers.map((l) => hexPath(out, l.to.digest)) };
}

function sh(args: string[], opts: { env?: Record<string, string> } = {}): string {
  const p = Bun.spawnSync(args, { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, ...opts.env } });
  if (p.exitCode !== 0) throw new Error(`${args.join(' ')}: ${p.stderr.toString().trim()}`);
  return p.stdout.toString();
}

/** A private containerd on a unix socket; ctr-remote converts inside its content store. */
async function withContainerd<T>(run: (ctr: (...a: string[]) => string, remote: (...a: string[]) => string) => Promise<T>): Promise<T> {
  const dir = join(work, 'containerd');
  const sock = join(dir, 'containerd.sock');
  writeFileSync(join(work, 'containerd.toml'), [
    'version = 2', `root = "${dir}/root"`, `state = "${dir}/state"`, 'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]', `  address = "${sock}"`, '[ttrpc]', `  address = "${sock}.ttrpc"`, '[debug]', '  address = ""', '[metrics]', '  address = ""',
  ].join('\n'));
  const proc = Bun.spawn(['containerd', '--config', join(work, 'containerd.toml')], { stdout: 'ignore', stderr: 'ignore' });
  try {
    const ctr = (...a: string[]) => sh(['ctr', '-a', sock, '-n', 'bench', ...a]);
    const remote = (...a: string[]) => sh(['ctr-remote', '-a', sock, '-n', 'bench', ...a]);
    for (let i = 0; ; i++) {
      try {
        ctr('version');
        break;
      } catch (e) {
        if (i > 100) throw e;
        await Bun.sleep(100);
      }
    }
    return await run(ctr, remote);
  } finally {
    proc.kill();
    await proc.exited;
  }
}

async function reference(): Promise<{ runs: number[]; size: number; tool: string; blobs: string[] }> {
  if (Bun.which('ctr-remote') && Bun.which('containerd')) {
    return withContainerd(async (ctr, remote) => {
      const archive = join(work, 'golang.tar');
      sh(['tar', '-C', src, '-cf', archive, '.']);
      ctr('images', 'import', '--base-name', 'bench.local/golang', archive);
      const runs: number[] = [];
      let size = 0;
      const blobs: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const t0 = performance.now();
        const digest = remote('image', 'convert', '--estargz', '--oci', '--estargz-compression-level', String(LEVEL), 'bench.local/golang:latest', `bench.local/golang:esgz${i}`).trim().split('\n').pop()!;
        runs.push((performance.now() - t0) / 1000);
        const m = JSON.parse(ctr('content', 'get', digest));
        size = m.layers.reduce((a: number, l: { size: number }) => a + l.size, 0);
        console.log(`  ctr-remote run ${i + 1}: ${runs[i].toFixed(1)} s`);
        if (i === RUNS - 1) {
          for (const [n, l] of (m.layers as { digest: string }[]).entries()) {
            const path = join(work, `ref-layer${n}.esgz`);
            const p = Bun.spawnSync(['ctr', '-a', join(work, 'containerd/containerd.sock'), '-n', 'bench', 'content', 'get', l.digest], { stdout: Bun.file(path), stderr: 'pipe' });
            if (p.exitCode !== 0) throw new Error(`ctr content get ${l.digest}: ${p.stderr.toString().trim()}`);
            blobs.push(path);
          }
        }
        ctr('images', 'rm', '--sync', `bench.local/golang:esgz${i}`);
      }
      return { runs, size, tool: 'ctr-remote image convert --estargz --oci', blobs };
    });
  }
  // Fallback: the reference package's estargz.Build, one layer tar at a time.
  const bin = buildChecker();
  const tars: string[] = [];
  for (const [i, l] of manifest.layers.entries()) {
    const p = join(work, `layer${i}.tar`);
    await pipeline(Readable.from(Bun.file(layout.blobPath(l.digest)).stream() as never), createGunzip(), createWriteStream(p));
    tars.push(p);
  }
  const runs: number[] = [];
  let size = 0;
  for (let i = 0; i < RUNS; i++) {
    size = 0;
    const t0 = performance.now();
    for (const t of tars) {
      goBuild(bin, t, `${t}.esgz`, { level: LEVEL });
      size += Bun.file(`${t}.esgz`).size;
    }
    runs.push((performance.now() - t0) / 1000);
  }
  return { runs, size, tool: 'reference estargz.Build (Go checker, GOMAXPROCS=1) — ctr-remote not available', blobs: tars.map((t) => `${t}.esgz`) };
}

try {
  const oursRuns: number[] = [];
  let oursSize = 0;
  let oursBlobs: string[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await ours();
    oursRuns.push(r.secs);
    oursSize = r.size;
    oursBlobs = r.blobs;
    console.log(`  edgebuild run ${i + 1}: ${r.secs.toFixed(1)} s`);
  }
  const ref = process.env.SKIP_REFERENCE ? undefined : await reference();
  const rate = (secs: number) => mb(uncompressed) / secs;
  const o = rate(median(oursRuns));
  console.log('');
  console.log(`edgebuild convert --estargz --oci : median ${median(oursRuns).toFixed(1)} s, ${o.toFixed(1)} MB/s, layers ${oursSize} bytes`);
  if (ref) {
    const r = rate(median(ref.runs));
    console.log(`${ref.tool} : median ${median(ref.runs).toFixed(1)} s, ${r.toFixed(1)} MB/s, layers ${ref.size} bytes`);
    console.log(`throughput ratio edgebuild/reference: ${(o / r).toFixed(2)}x (target >= 1.0x)`);
    console.log(`compressed size edgebuild vs reference: ${(((oursSize - ref.size) / ref.size) * 100).toFixed(2)}% (target within 1%; negative = edgebuild smaller)`);
    console.log(load());
    if (process.env.DECOMPOSE !== '0') {
      const levels = (process.env.ZLIB_LEVELS ?? '6,7,8,9').split(',').filter(Boolean).map(Number);
      const pairs = oursBlobs.map((o, i) => ({ label: String(i + 1), ours: o, ref: ref.blobs[i] }));
      await printSizeDecomposition(buildChecker(), pairs, LEVEL, levels);
      console.log(load());
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
  if (existsSync(work)) console.error(`left ${work}`);
}
