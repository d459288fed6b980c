// The physical limit of a workload: what no lazy pull over this network can beat.
//
//   limit = fetch bytes ÷ bandwidth + round trips × RTT + compute
//
// fetch bytes — what a lazy reader must move, at best: the manifest and config; every layer's
//   footer + TOC (a filesystem cannot be mounted without them, even for layers it reads nothing
//   from); and the compressed eStargz chunks that hold the bytes the workload read (recorded
//   below). A chunk is the smallest unit a reader can fetch and verify (4 MiB of file data at
//   most), so a file read in part still costs the whole chunks its read ranges fall in. Chunks
//   are counted once, whatever number of files or ranges share them. The chunks are those of the
//   eStargz variant bench pushed (lazyReadPlan()); uncompressed bytes read are reported beside.
// round trips — the shortest dependency chain (MIN_ROUND_TRIPS): TCP connect, manifest, then
//   config ∥ each layer's footer+TOC (one tail range per layer, all in parallel), then the data
//   (every chunk asked for at once: a reader that knows what the workload reads — the optimized
//   variant's prefetch — need not wait for one file before asking for the next).
// compute — the workload's median wall time on a warm local copy (computeTime()).
//
// What it reads is recorded with strace on a local copy of the image (unpacked once with umoci):
// the workload runs in a chroot on an overlay of that copy, in a private mount namespace, under
// `strace -f -y -e trace=open,openat,execve,chroot`. `-y` prints each opened file's resolved path, so
// symlinks and relative opens need no re-resolution. The copy is evicted from the page cache
// first; afterwards each opened or executed file counts with the byte ranges of it now resident
// (mincore, page-granular), so mmap'ed reads count and untouched parts of big files (a JDK's
// 130 MB modules image) do not; kernel readahead is included, as a lazy reader's would be. No FUSE
// or fanotify is needed, so the record is the same whichever variant is measured; the same paths
// prioritise the optimized eStargz variant, as `ctr-remote optimize` records do.
import { closeSync, existsSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join, posix, relative } from 'node:path';
import { resolveInRoot } from '../core/layer/securejoin.ts';
import { buildOnce } from './images/rootfs.ts';
import { dropPageCache } from './page-cache.ts';
import { residentRanges } from './residency.ts';
import { openEstargz, TOC_DIGEST_ANNOTATION, type EstargzReader } from '../plugins/snapshotter-stargz/estargz/index.ts';
import type { RegistryClient } from '../core/registry/client.ts';
import { parseReference } from '../core/registry/reference.ts';
import type { Workload } from './workloads.ts';

export interface WorkloadRecord {
  /** Image paths read or executed (no leading slash), first access first. */
  files: string[];
  /** Bytes of those files the workload brought into the page cache (see residency.ts). */
  readBytes: number;
  /** Their whole sizes. */
  fileBytes: number;
  /** Per file: the byte ranges [start, end) it brought into the page cache. */
  ranges: Record<string, [number, number][]>;
}

/** What a lazy reader must fetch of one image for a workload (see the top of this file). */
export interface LazyReadPlan {
  /** Compressed bytes of the distinct chunks holding the bytes read. */
  chunkBytes: number;
  chunks: number;
  /** Footer + TOC of every layer. */
  tocBytes: number;
  /** Manifest + config. */
  metaBytes: number;
  layers: number;
  /** Recorded files no layer holds as a regular file (should be none). */
  missing: string[];
}

export interface PhysicalLimit {
  /** Uncompressed bytes the workload read. */
  readBytes: number;
  files: number;
  /** chunk + TOC + manifest/config bytes. */
  fetchBytes: number;
  plan: LazyReadPlan;
  transferS: number;
  roundTrips: number;
  rttS: number;
  computeS: number;
  limitS: number;
}

/** TCP connect, manifest, config ∥ footers+TOCs, data: no lazy pull can do with fewer. */
export const MIN_ROUND_TRIPS = 4;

/**
 * The chunks of an eStargz image (`layers` bottom to top, as opened readers) that hold the
 * recorded byte ranges, each file taken from the topmost layer that has it.
 */
export function lazyReadPlan(record: WorkloadRecord, layers: { reader: EstargzReader; size: number }[], metaBytes: number): LazyReadPlan {
  const spans = new Map<string, number>();
  const missing: string[] = [];
  for (const path of record.files) {
    const holder = [...layers].reverse().find((l) => l.reader.lookup(path));
    const entry = holder?.reader.lookup(path);
    if (!holder || !entry) {
      missing.push(path);
      continue;
    }
    const owner = holder.reader.dataOwner(entry);
    if (owner.type !== 'reg') {
      missing.push(path);
      continue;
    }
    for (const [start, end] of record.ranges[path] ?? []) {
      for (const c of owner.chunks) {
        if (c.chunkOffset >= end || c.chunkOffset + c.chunkSize <= start) continue;
        spans.set(`${holder.reader.layerDigest}@${c.offset}`, c.compressedEnd - c.offset);
      }
    }
  }
  let chunkBytes = 0;
  for (const n of spans.values()) chunkBytes += n;
  const tocBytes = layers.reduce((n, l) => n + (l.size - l.reader.tocOffset), 0);
  return { chunkBytes, chunks: spans.size, tocBytes, metaBytes, layers: layers.length, missing };
}

const PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

async function sh(argv: string[], what: string): Promise<string> {
  const p = Bun.spawn(argv, { stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) throw new Error(`${what}: ${argv.slice(0, 3).join(' ')}… exited ${code}: ${(err || out).trim().split('\n').slice(-3).join(' | ')}`);
  return out;
}

/** The image unpacked once with umoci (rootfs under <cache>/unpacked/<layout>/rootfs). */
export async function unpackedRootfs(cacheDir: string, layout: string): Promise<string> {
  const dir = await buildOnce(join(cacheDir, 'unpacked', basename(layout)), async (tmp) => {
    await sh(['umoci', 'unpack', '--image', `${layout}:latest`, tmp], `unpacking ${layout}`);
  });
  return join(dir, 'rootfs');
}

/** Runs the workload's command in a chroot on an overlay of `rootfs` (seconds); `trace`: strace log path. */
export async function runOnCopy(rootfs: string, w: Workload, trace?: string): Promise<number> {
  const scratch = mkdtempSync(join(rootfs, '..', '..', 'run-'));
  try {
    const upper = join(scratch, 'upper');
    mkdirSync(upper);
    mkdirSync(join(scratch, 'work'));
    mkdirSync(join(scratch, 'merged'));
    for (const [name, text] of Object.entries(w.files)) writeFileSync(join(upper, name), text);
    const m = join(scratch, 'merged');
    const inner = ['chroot', m, '/bin/sh', '-c', w.command];
    const traced = ['env', '-i', PATH, 'HOME=/root', ...(trace ? ['strace', '-f', '-qq', '-y', '-e', 'trace=open,openat,execve,chroot', '-o', trace] : []), ...inner];
    // Mounts live in a private namespace: they vanish with it, whatever happens.
    const script = [
      `mount -t overlay overlay -o lowerdir=${rootfs},upperdir=${upper},workdir=${join(scratch, 'work')} ${m}`,
      `mount --rbind /dev ${m}/dev`,
      `mount -t proc proc ${m}/proc`,
      `exec "$@"`,
    ].join(' && ');
    const t0 = performance.now();
    await sh(['unshare', '--mount', '--propagation', 'private', '--fork', 'sh', '-c', script, 'sh', ...traced], `workload ${w.name} on a local copy`);
    return (performance.now() - t0) / 1000;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Follows symlinks inside `root` (absolute links are relative to it). */
export function regularFileIn(root: string, path: string): { path: string; size: number } | undefined {
  // Every symlink on the way resolved inside the rootfs: with a merged /usr, /bin/sh is the
  // image's usr/bin/dash (the name its layer tar has), not bin/dash.
  let host: string;
  try {
    host = resolveInRoot(root, path, true);
  } catch {
    return undefined;
  }
  let st;
  try {
    st = lstatSync(host);
  } catch {
    return undefined;
  }
  return st.isFile() ? { path: relative(root, host), size: st.size } : undefined;
}

/**
 * The program interpreter (PT_INTERP, e.g. /lib64/ld-linux-x86-64.so.2) an ELF file names, or
 * undefined (not ELF, static, unreadable). The kernel opens it itself at execve, so strace shows no
 * open of it, yet every dynamically linked program's start reads it (fanotify, which
 * `ctr-remote optimize` records with, does see it).
 */
export function elfInterpreter(file: string): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const head = Buffer.alloc(64);
    if (readSync(fd, head, 0, 64, 0) < 52 || head.readUInt32BE(0) !== 0x7f454c46) return undefined;
    const is64 = head[4] === 2;
    const le = head[5] === 1;
    const u16 = (b: Buffer, o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const word = (b: Buffer, o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(b, o));
    const phoff = word(head, is64 ? 0x20 : 0x1c);
    const phentsize = u16(head, is64 ? 0x36 : 0x2a);
    const phnum = u16(head, is64 ? 0x38 : 0x2c);
    if (phnum === 0 || phentsize < (is64 ? 56 : 32) || phnum > 4096) return undefined;
    const ph = Buffer.alloc(phentsize * phnum);
    if (readSync(fd, ph, 0, ph.length, phoff) !== ph.length) return undefined;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      if (u32(ph, o) !== 3) continue; // PT_INTERP
      const offset = word(ph, o + (is64 ? 8 : 4));
      const size = word(ph, o + (is64 ? 32 : 16));
      if (size < 2 || size > 4096) return undefined;
      const name = Buffer.alloc(size);
      if (readSync(fd, name, 0, size, offset) !== size) return undefined;
      return name.toString('latin1').replace(/\0.*$/s, '');
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Paths the strace log shows opened (resolved by -y) or executed, in first-seen order. */
export function parseStrace(log: string, mergedPrefix: string): string[] {
  const seen = new Set<string>();
  let inside = false; // what chroot(8) itself does before chroot(2) is the host's, not the image's
  for (const line of log.split('\n')) {
    if (!inside) {
      inside = /chroot\(/.test(line) && /= 0$/.test(line);
      continue;
    }
    const opened = line.match(/= \d+<(.+)>$/);
    if (opened && /open(at)?\(|resumed>/.test(line)) {
      let p = opened[1];
      const i = p.indexOf(mergedPrefix);
      if (i < 0) continue;
      p = p.slice(i + mergedPrefix.length);
      if (!/^\/(proc|dev|sys)\//.test(p)) seen.add(p);
      continue;
    }
    const exec = line.match(/execve\("([^"]+)"/);
    if (exec && !/= -1 /.test(line)) seen.add(exec[1]);
  }
  return [...seen];
}

/**
 * Read whole from the image by edgebuild itself before every RUN starts (user and group lookup,
 * plugins/executor-runc/user.ts): part of what a build reads, and in an estargz-optimize recording
 * (the builder opens them through the same lazy mount), though the workload's strace cannot see them.
 */
const BUILDER_READS = ['/etc/passwd', '/etc/group'];

export async function recordWorkload(cacheDir: string, layout: string, w: Workload): Promise<WorkloadRecord> {
  const file = join(cacheDir, 'records', `${w.name}-${basename(layout)}-${Bun.hash(w.command).toString(16)}-r6.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as WorkloadRecord;
  const rootfs = await unpackedRootfs(cacheDir, layout);
  const logDir = mkdtempSync(join(cacheDir, 'unpacked', 'trace-'));
  try {
    const log = join(logDir, 'strace.log');
    dropPageCache(rootfs);
    await runOnCopy(rootfs, w, log);
    const files: string[] = [];
    let readBytes = 0;
    let fileBytes = 0;
    const ranges: WorkloadRecord['ranges'] = {};
    const counted = new Set<string>();
    const paths = [...BUILDER_READS, ...parseStrace(readFileSync(log, 'utf8'), '/merged')];
    for (let i = 0; i < paths.length; i++) {
      const p = paths[i];
      const f = regularFileIn(rootfs, p);
      if (!f || counted.has(f.path)) continue;
      // An executable's interpreter is read right after it, before anything it opens.
      const interp = elfInterpreter(join(rootfs, f.path));
      if (interp) paths.splice(i + 1, 0, interp);
      counted.add(f.path);
      files.push(f.path);
      fileBytes += f.size;
      const r = BUILDER_READS.includes(p) ? (f.size ? [[0, f.size] as [number, number]] : []) : residentRanges(join(rootfs, f.path));
      ranges[f.path] = r;
      readBytes += r.reduce((n, [a, b]) => n + b - a, 0);
    }
    const record: WorkloadRecord = { files, readBytes, fileBytes, ranges };
    mkdirSync(join(cacheDir, 'records'), { recursive: true });
    writeFileSync(file, JSON.stringify(record));
    return record;
  } finally {
    rmSync(logDir, { recursive: true, force: true });
  }
}

/** Median wall time of `runs` warm runs on the local copy (after one run to warm the cache). */
export async function computeTime(cacheDir: string, layout: string, w: Workload, runs = 3): Promise<number> {
  const rootfs = await unpackedRootfs(cacheDir, layout);
  await runOnCopy(rootfs, w);
  const times: number[] = [];
  for (let i = 0; i < runs; i++) times.push(await runOnCopy(rootfs, w));
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

export function physicalLimit(record: WorkloadRecord, plan: LazyReadPlan, computeS: number, net: { rttMs: number; rateBps: number }): PhysicalLimit {
  const fetchBytes = plan.chunkBytes + plan.tocBytes + plan.metaBytes;
  const transferS = (fetchBytes * 8) / net.rateBps;
  const rttS = (MIN_ROUND_TRIPS * net.rttMs) / 1000;
  return { readBytes: record.readBytes, files: record.files.length, fetchBytes, plan, transferS, roundTrips: MIN_ROUND_TRIPS, rttS, computeS, limitS: transferS + rttS + computeS };
}

/** The layers of an eStargz image in the registry, opened (footer + TOC read) bottom to top, and
 *  the size of its manifest + config: the input of lazyReadPlan(). */
export async function openEstargzImage(client: RegistryClient, refText: string): Promise<{ layers: { reader: EstargzReader; size: number }[]; metaBytes: number }> {
  const ref = parseReference(refText);
  const m = await client.getManifest(ref);
  const manifest = JSON.parse(new TextDecoder().decode(m.bytes)) as { config: { size: number }; layers: { digest: string; size: number; annotations?: Record<string, string> }[] };
  const layers = await Promise.all(
    manifest.layers.map(async (l) => {
      const source = { size: l.size, readAt: async (offset: number, length: number) => (await client.fetchBlobRange(ref, l.digest, [{ offset, length }]))[0] };
      const reader = await openEstargz(source, { layerDigest: l.digest, expectedTocDigest: l.annotations?.[TOC_DIGEST_ANNOTATION] });
      return { reader, size: l.size };
    }),
  );
  return { layers, metaBytes: m.bytes.length + manifest.config.size };
}
