// Walks a build graph: computes each vertex's cache key from its definition and its inputs'
// content, reuses results recorded under that key, and runs the rest — independent vertices in
// parallel. It knows nothing of Dockerfiles.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { BuildGraph, ExecOp, FileOp, Op, Platform, Ref, Vertex } from '../graph/ops.ts';
import type { ExecMountSpec } from '../executor/types.ts';
import { isAccessRecorder, type LayerAccesses, type Mount } from '../snapshot/types.ts';
import type { ProgressStream, VertexProgress } from '../progress/events.ts';
import type { ImageInfo, LayerRecord, Worker } from './worker.ts';
import { CacheRecords } from './records.ts';
import { applyFileActions, type PathFilter, type SourceTree } from './fileops.ts';
import { checksumPaths } from './checksum.ts';
import { ownedPrefix } from '../layer/owner.ts';

export interface LocalDir {
  dir: string;
}

export interface SolveOptions {
  /** --local NAME=DIR */
  locals: Record<string, string>;
  /** --secret id=…: id → bytes. Never logged, never part of a cache key. */
  secrets: Record<string, Uint8Array>;
  noCache: boolean;
  progress: ProgressStream;
  signal?: AbortSignal;
  /** Builds a matcher for .dockerignore-style patterns (supplied by the frontend's package). */
  compileFilter: (patterns: string[]) => PathFilter;
  /** Imported build cache (--import-cache): asked on a local miss; a hit gives the step's layer
   *  chain as committed snapshots, so the step does not run. */
  remoteCache?: RemoteCacheLookup;
  /** Record which files RUN steps open in local layers too (estargz-optimize asked for it). */
  localRecorder?: LocalLayerRecorder;
}

/** Access recording for layers that are plain directories (see core/build/record-local.ts). */
export interface LocalLayerRecorder {
  /** The step's root mounts with each plain-directory lowerdir seen through a recording view;
   *  `lowers` is the original lowerdir list (top first), empty when nothing was wrapped. */
  wrap(mounts: Mount[]): Promise<{ mounts: Mount[]; lowers: string[] }>;
  /** Files opened through the views until stop(), by original dir. */
  record(): { stop(): Promise<Record<string, string[]>> };
}

export interface RemoteCacheLookup {
  /** undefined when the key is not in any imported cache. */
  load(key: string, signal?: AbortSignal): Promise<LayerRecord[] | undefined>;
}

/** A step result this build produced or reused: what cache export needs. */
export interface SolvedStep {
  key: string;
  layers: LayerRecord[];
  description: string;
}

/** A filesystem result: its layer chain and the committed snapshot that tops it. */
export interface FsResult {
  kind: 'fs';
  layers: LayerRecord[];
  /** Committed snapshot key; may unpack an image on first call. undefined = empty (scratch). */
  snapshot(): Promise<string | undefined>;
  image?: ImageInfo;
  /** Files the steps of this chain opened in lazily mounted layers, when the snapshotter records
   *  accesses (for estargz-optimize). Cumulative over the chain, and kept in cache records so a
   *  cached result still has it. */
  accessed?: LayerAccesses;
}

export interface LocalResult {
  kind: 'local';
  tree: SourceTree;
}

export type Result = FsResult | LocalResult;

export class SolveError extends Error {}

const sha = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex');
const rand = () => randomBytes(6).toString('hex');

export class Solver {
  private readonly records: CacheRecords;
  private readonly keys = new Map<Ref, Promise<string>>();
  private readonly results = new Map<Ref, Promise<Result>>();
  private readonly images = new Map<string, Promise<ImageInfo>>();
  private readonly tmp: string;
  /** Every keyed step result of this build, in completion order (for cache export). */
  readonly solved: SolvedStep[] = [];

  constructor(private readonly graph: BuildGraph, private readonly worker: Worker, private readonly opts: SolveOptions) {
    this.records = new CacheRecords(worker.root);
    this.tmp = join(worker.root, 'tmp');
    fs.mkdirSync(this.tmp, { recursive: true });
  }

  vertex(ref: Ref): Vertex {
    const v = this.graph.vertices[ref];
    if (!v) throw new SolveError(`build graph refers to unknown vertex ${ref}`);
    return v;
  }

  /** Resolves an image once per build (manifest + config). */
  resolveImage(ref: string, platform: Platform, progress?: VertexProgress): Promise<ImageInfo> {
    const k = `${ref}|${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    let p = this.images.get(k);
    if (!p) this.images.set(k, (p = this.worker.images.resolve(ref, platform, progress)));
    return p;
  }

  private localTree(name: string, exclude?: string[]): SourceTree {
    const dir = this.opts.locals[name];
    if (!dir) throw new SolveError(`no local directory given for "${name}" (use --local ${name}=DIR)`);
    return { root: dir, local: true, filter: exclude?.length ? this.opts.compileFilter(exclude) : undefined };
  }

  /** The cache key of a vertex: its definition with inputs replaced by their keys, plus the
   *  content of what it reads from local sources. */
  key(ref: Ref): Promise<string> {
    let p = this.keys.get(ref);
    if (!p) this.keys.set(ref, (p = this.computeKey(this.vertex(ref))));
    return p;
  }

  private async computeKey(v: Vertex): Promise<string> {
    const op = v.op;
    switch (op.op) {
      case 'source.image': {
        const img = await this.resolveImage(op.ref, op.platform);
        return sha(JSON.stringify({ op: op.op, digest: img.digest }));
      }
      case 'source.scratch':
        return sha('scratch');
      case 'source.local':
        return sha(JSON.stringify({ op: op.op, name: op.name, exclude: op.exclude ?? [] }));
      case 'source.http':
        return sha(JSON.stringify({ op: op.op, url: op.url, checksum: op.checksum ?? null, filename: op.filename, chmod: op.chmod ?? null }));
      case 'merge':
        return sha(JSON.stringify({ op: 'merge', inputs: await Promise.all(op.inputs.map((r) => this.key(r))) }));
      case 'exec': {
        const mounts = await Promise.all(
          op.mounts.map(async (m) => ({ ...m, input: m.input ? await this.inputKey(m.input, m.source ? [m.source] : ['/']) : null })),
        );
        return sha(JSON.stringify({ ...op, mounts }));
      }
      case 'file': {
        const actions = await Promise.all(
          op.actions.map(async (a) => (a.action === 'copy' ? { ...a, src: a.src ? await this.inputKey(a.src, a.srcPaths, a.followSymlinks) : null } : a)),
        );
        return sha(JSON.stringify({ op: 'file', base: op.base ? await this.key(op.base) : null, actions }));
      }
    }
  }

  /** Key of an input as a consumer sees it: local sources count by the content of the paths read. */
  private async inputKey(ref: Ref, paths: string[], follow = true): Promise<string> {
    const op = this.vertex(ref).op;
    if (op.op === 'source.local') return sha(JSON.stringify([await this.key(ref), checksumPaths(this.localTree(op.name, op.exclude), paths, follow)]));
    return this.key(ref);
  }

  /** Solves the graph's root and every vertex it needs. */
  solve(ref: Ref = this.graph.root): Promise<Result> {
    let p = this.results.get(ref);
    if (!p) {
      this.results.set(ref, (p = this.run(ref)));
      p.catch(() => {}); // observed by the awaiting caller; avoid unhandled rejections in siblings
    }
    return p;
  }

  private async run(ref: Ref): Promise<Result> {
    const v = this.vertex(ref);
    const op = v.op;
    this.opts.signal?.throwIfAborted();
    if (op.op === 'source.local') return { kind: 'local', tree: this.localTree(op.name, op.exclude) };
    if (op.op === 'source.scratch') return { kind: 'fs', layers: [], snapshot: async () => undefined };
    if (op.op === 'source.image') return this.imageSource(v, op.ref, op.platform);
    const key = await this.key(ref);
    const cached = !this.opts.noCache && !v.meta.ignoreCache ? this.records.get(key) : undefined;
    if (cached && (await this.worker.snapshotter.stat(cached.snapshot))) {
      this.records.touch(key);
      this.showCached(ref);
      this.solved.push({ key, layers: cached.layers, description: v.meta.name });
      return { kind: 'fs', layers: cached.layers, snapshot: async () => cached.snapshot, ...(cached.accessed ? { accessed: cached.accessed } : {}) };
    }
    const imported = !this.opts.noCache && !v.meta.ignoreCache ? await this.opts.remoteCache?.load(key, this.opts.signal) : undefined;
    if (imported?.length) {
      const top = imported[imported.length - 1].snapshot;
      const now = new Date().toISOString();
      this.records.put({ key, snapshot: top, layers: imported, description: v.meta.name, created: now, lastUsed: now });
      this.showCached(ref);
      this.solved.push({ key, layers: imported, description: v.meta.name });
      return { kind: 'fs', layers: imported, snapshot: async () => top };
    }
    // Inputs first (in parallel), then this vertex.
    const inputs = inputRefs(op);
    await Promise.all(inputs.map((r) => this.solve(r)));
    return this.opts.progress.vertex(ref, v.meta.name, async (p) => {
      if (op.op === 'source.http') return this.httpSource(key, op, v);
      if (op.op === 'exec') return this.exec(key, v, op, p);
      if (op.op === 'file') return this.file(key, v, op);
      return this.merge(key, v, op.inputs);
    });
  }

  /** A cache hit makes its inputs unnecessary; they are shown CACHED too, as BuildKit does
   *  (inputs that this build solves anyway are shown by their own run). */
  private readonly shown = new Set<Ref>();
  private showCached(ref: Ref): void {
    if (this.shown.has(ref)) return;
    this.shown.add(ref);
    const v = this.vertex(ref);
    for (const input of inputRefs(v.op)) if (!this.results.has(input)) this.showCached(input);
    if (v.op.op !== 'source.local' && v.op.op !== 'source.scratch') this.opts.progress.cached(ref, v.meta.name);
  }

  private async imageSource(v: Vertex, ref: string, platform: Platform): Promise<FsResult> {
    const id = v.id;
    const img = await this.opts.progress.vertex(`${id}/resolve`, `[internal] load metadata for ${ref}`, (p) => this.resolveImage(ref, platform, p));
    let unpacked: Promise<{ top?: string; layers: LayerRecord[] }> | undefined;
    const diffIDs: string[] = img.config?.rootfs?.diff_ids ?? [];
    // Layers are described now; they are only fetched/mounted when a step needs files.
    const layers: LayerRecord[] = img.layers.map((d, i) => ({
      snapshot: '',
      diffID: diffIDs[i],
      existing: { descriptor: d, repository: img.repository, imageRef: img.ref },
      createdBy: undefined,
    }));
    const result: FsResult = {
      kind: 'fs',
      image: img,
      layers,
      snapshot: async () => {
        unpacked ??= this.opts.progress.vertex(id, `${v.meta.name.replace(/ FROM .*/, '')} FROM ${ref}@${img.digest}`.trim(), (p) =>
          this.worker.images.unpack(img, p, this.opts.signal),
        );
        const u = await unpacked;
        u.layers.forEach((l, i) => Object.assign(layers[i], { snapshot: l.snapshot, parent: l.parent, diffID: layers[i].diffID ?? l.diffID }));
        return u.top;
      },
    };
    return result;
  }

  private async fsInput(ref: Ref | null | undefined): Promise<FsResult> {
    if (!ref) return { kind: 'fs', layers: [], snapshot: async () => undefined };
    const r = await this.solve(ref);
    if (r.kind !== 'fs') throw new SolveError(`vertex ${ref} is a local source where a filesystem is needed`);
    return r;
  }

  /** Mounts a read-only view of a result under a temp dir; returns the dir and a release function. */
  private async mountView(r: FsResult): Promise<{ dir: string; release: () => Promise<void> }> {
    const dir = fs.mkdtempSync(join(this.tmp, ownedPrefix('view-')));
    const snap = await r.snapshot();
    if (!snap) return { dir, release: async () => void fs.rmSync(dir, { recursive: true, force: true }) };
    const key = `view/${rand()}`;
    const mounts = await this.worker.snapshotter.view(key, snap);
    await this.worker.mount(mounts, dir);
    return {
      dir,
      release: async () => {
        await this.worker.unmount(dir);
        await this.worker.snapshotter.remove(key);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  /** The committed snapshot name for a key. A re-run (--no-cache) replaces an old result; when
   *  that one still has children (other cached steps build on it) it stays and the new result
   *  gets a name of its own. */
  private async snapshotName(key: string): Promise<string> {
    const name = `cache/${key.slice(7)}`;
    if (!(await this.worker.snapshotter.stat(name))) return name;
    await this.worker.snapshotter.remove(name).catch(() => {});
    return (await this.worker.snapshotter.stat(name)) ? `${name}.${rand()}` : name;
  }

  private commitRecord(key: string, snapshot: string, parent: string | undefined, base: FsResult, v: Vertex, stepAccessed?: LayerAccesses): FsResult {
    const layers = [...base.layers, { snapshot, parent, createdBy: v.meta.name }];
    const accessed = mergeAccesses(base.accessed, stepAccessed);
    const now = new Date().toISOString();
    this.records.put({ key, snapshot, layers, description: v.meta.name, created: now, lastUsed: now, ...(accessed ? { accessed } : {}) });
    this.solved.push({ key, layers, description: v.meta.name });
    return { kind: 'fs', layers, snapshot: async () => snapshot, ...(accessed ? { accessed } : {}) };
  }

  /** Runs `fn` while the snapshotter records which layer files are opened (when it can). Steps
   *  running at the same time each see the other's opens too: a superset, never a loss. */
  private async recordingAccess<T>(fn: () => Promise<T>): Promise<{ value: T; accessed?: LayerAccesses }> {
    const s = this.worker.snapshotter;
    if (!isAccessRecorder(s)) return { value: await fn() };
    const rec = s.recordAccess();
    let value: T;
    try {
      value = await fn();
    } catch (e) {
      await rec.stop();
      throw e;
    }
    return { value, accessed: await rec.stop() };
  }

  private async withActive<T>(parent: string | undefined, fn: (mounts: Mount[], active: string) => Promise<T>): Promise<T> {
    const active = `active/${rand()}`;
    const mounts = await this.worker.snapshotter.prepare(active, parent);
    try {
      return await fn(mounts, active);
    } catch (e) {
      await this.worker.snapshotter.remove(active).catch(() => {});
      throw e;
    }
  }

  private async exec(key: string, v: Vertex, op: ExecOp, p: VertexProgress): Promise<FsResult> {
    const rootMount = op.mounts.find((m) => m.target === '/');
    const base = await this.fsInput(rootMount?.input);
    const parent = await base.snapshot();
    const snapshotName = await this.snapshotName(key);
    return this.withActive(parent, async (rootMounts, active) => {
      const local = this.opts.localRecorder;
      const wrapped = local ? await local.wrap(rootMounts) : { mounts: rootMounts, lowers: [] };
      const localRec = wrapped.lowers.length ? local?.record() : undefined;
      let accessed: LayerAccesses | undefined;
      try {
        accessed = (await this.recordingAccess(() => this.runExec(op, wrapped.mounts, p))).accessed;
      } finally {
        const byDir = await localRec?.stop();
        if (byDir) accessed = mergeAccesses(accessed, this.byLayer(byDir, wrapped.lowers, base.layers)) ?? {};
      }
      await this.worker.snapshotter.commit(snapshotName, active);
      return this.commitRecord(key, snapshotName, parent, base, v, accessed);
    });
  }

  /** Files opened per lowerdir → per layer of the chain: lowerdirs are the chain's layers, top
   *  first. Built layers are named `snapshot:NAME`, image layers by their blob digest. */
  private byLayer(byDir: Record<string, string[]>, lowers: string[], chain: LayerRecord[]): LayerAccesses {
    // A snapshotter whose lowerdirs are not one per layer: nothing can be attributed (the export
    // notes then say nothing was recorded for those layers).
    if (lowers.length !== chain.length) return {};
    const out: LayerAccesses = {};
    lowers.forEach((dir, i) => {
      const files = byDir[dir];
      const layer = chain[chain.length - 1 - i];
      if (files?.length) out[layerAccessKey(layer)] = files;
    });
    return out;
  }

  private async runExec(op: ExecOp, rootMounts: Mount[], p: VertexProgress): Promise<void> {
    const releases: (() => Promise<void>)[] = [];
    const specs: ExecMountSpec[] = [{ destination: '/', mounts: rootMounts }];
    const secrets: NonNullable<Parameters<Worker['executor']['run']>[0]['secrets']> = [];
    const tmpfs: { destination: string; size?: number }[] = [];
    const tail: string[] = [];
    const secretEnv: string[] = [];
    try {
      for (const m of op.mounts) {
        if (m.target === '/') continue;
        if (m.type === 'bind') {
          const input = m.input ? await this.solve(m.input) : undefined;
          let dir: string;
          if (input?.kind === 'local') dir = input.tree.root;
          else {
            const view = await this.mountView(input ?? (await this.fsInput(null)));
            releases.push(view.release);
            dir = view.dir;
          }
          const src = m.source ? join(dir, m.source) : dir;
          specs.push({ destination: m.target, mounts: [{ type: 'bind', source: src, options: ['rbind', m.readonly === false ? 'rw' : 'ro'] }], readonly: m.readonly !== false });
        } else if (m.type === 'cache') {
          const id = (m.cacheId ?? m.target).replace(/[^A-Za-z0-9._-]/g, '_');
          const dir = join(this.worker.root, 'cache-mounts', id);
          if (!fs.existsSync(dir)) {
            fs.mkdirSync(dir, { recursive: true, mode: m.mode ?? 0o755 });
            fs.chownSync(dir, m.uid ?? 0, m.gid ?? 0);
          }
          specs.push({ destination: m.target, mounts: [{ type: 'bind', source: dir, options: ['rbind', 'rw'] }] });
        } else if (m.type === 'tmpfs') tmpfs.push({ destination: m.target, size: m.size });
        else if (m.type === 'secret') {
          const data = this.opts.secrets[m.secretId ?? ''];
          if (!data) {
            if (m.required) throw new SolveError(`secret ${m.secretId} is required but was not given (use --secret id=${m.secretId},src=FILE)`);
            continue;
          }
          secrets.push({ destination: m.target, data, mode: m.mode ?? 0o400, uid: m.uid ?? 0, gid: m.gid ?? 0 });
          if (m.env) secretEnv.push(`${m.env}=${new TextDecoder().decode(data)}`);
        } else throw new SolveError(`RUN --mount=type=${m.type} is not supported by this worker`);
      }
      const collect = (chunk: Uint8Array, stream: 1 | 2) => {
        p.log(chunk, stream);
        const text = new TextDecoder().decode(chunk);
        tail.push(...text.split('\n').filter(Boolean));
        if (tail.length > 20) tail.splice(0, tail.length - 20);
      };
      const res = await this.worker.executor.run({
        args: op.args,
        env: [...op.env, ...secretEnv],
        cwd: op.cwd,
        user: op.user,
        network: op.network,
        hostname: op.hostname,
        mounts: specs,
        secrets,
        tmpfs,
        stdout: (c) => collect(c, 1),
        stderr: (c) => collect(c, 2),
        signal: this.opts.signal,
      });
      if (res.exitCode !== 0) {
        const shown = tail.slice(-6).map((l) => `  > ${l}`).join('\n');
        throw new SolveError(`process ${JSON.stringify(op.args.join(' '))} did not complete successfully: exit code: ${res.exitCode}${shown ? `\n${shown}` : ''}`);
      }
    } finally {
      for (const r of releases.reverse()) await r().catch(() => {});
    }
  }

  private async file(key: string, v: Vertex, op: FileOp): Promise<FsResult> {
    const base = await this.fsInput(op.base);
    const parent = await base.snapshot();
    const snapshotName = await this.snapshotName(key);
    return this.withActive(parent, async (mounts, active) => {
      const target = fs.mkdtempSync(join(this.tmp, ownedPrefix('file-')));
      const releases: (() => Promise<void>)[] = [];
      await this.worker.mount(mounts, target);
      // A COPY from a lazily mounted image reads through its FUSE layers: record those opens too.
      const { accessed } = await this.recordingAccess(async () => {
        try {
          const sources: (SourceTree | undefined)[] = [];
          for (const a of op.actions) {
            if (a.action !== 'copy' || !a.src) {
              sources.push(undefined);
              continue;
            }
            const r = await this.solve(a.src);
            if (r.kind === 'local') sources.push(r.tree);
            else {
              const view = await this.mountView(r);
              releases.push(view.release);
              sources.push({ root: view.dir, local: this.vertex(a.src).op.op === 'source.http' });
            }
          }
          try {
            applyFileActions(target, op.actions, sources);
          } catch (e) {
            throw new SolveError(`${v.meta.name.replace(/^\[[^\]]*\] /, '')}: ${(e as Error).message}`);
          }
        } finally {
          for (const r of releases.reverse()) await r().catch(() => {});
          await this.worker.unmount(target);
          fs.rmSync(target, { recursive: true, force: true });
        }
      });
      await this.worker.snapshotter.commit(snapshotName, active);
      return this.commitRecord(key, snapshotName, parent, base, v, accessed);
    });
  }

  /** COPY --link: the input's tree laid over the base, as a layer of its own. */
  private async merge(key: string, v: Vertex, inputs: Ref[]): Promise<FsResult> {
    const [first, ...rest] = inputs;
    let acc = await this.fsInput(first);
    for (const r of rest) {
      const over = await this.fsInput(r);
      const parent = await acc.snapshot();
      const snapshotName = await this.snapshotName(sha(key + r));
      acc = await this.withActive(parent, async (mounts, active) => {
        const target = fs.mkdtempSync(join(this.tmp, ownedPrefix('merge-')));
        await this.worker.mount(mounts, target);
        const view = await this.mountView(over);
        try {
          applyFileActions(target, [{ action: 'copy', src: r, srcPaths: ['/'], dest: '/', followSymlinks: false, dirContentsOnly: true, allowWildcard: false, allowEmptyWildcard: false, createDestPath: true, attemptUnpack: false }], [{ root: view.dir, local: false }]);
        } finally {
          await view.release();
          await this.worker.unmount(target);
          fs.rmSync(target, { recursive: true, force: true });
        }
        await this.worker.snapshotter.commit(snapshotName, active);
        return this.commitRecord(key, snapshotName, parent, acc, v);
      });
    }
    return acc;
  }

  private async httpSource(key: string, op: Extract<Op, { op: 'source.http' }>, v: Vertex): Promise<FsResult> {
    if (!this.worker.fetchUrl) throw new SolveError(`ADD ${op.url}: this worker cannot download URLs`);
    const { path, digest } = await this.worker.fetchUrl(op.url, this.opts.signal);
    try {
      if (op.checksum && op.checksum !== digest) throw new SolveError(`ADD ${op.url}: checksum mismatch: expected ${op.checksum}, got ${digest}`);
      const snapshotName = await this.snapshotName(key);
      return await this.withActive(undefined, async (mounts, active) => {
        const target = fs.mkdtempSync(join(this.tmp, ownedPrefix('http-')));
        await this.worker.mount(mounts, target);
        try {
          fs.copyFileSync(path, join(target, op.filename));
          fs.chmodSync(join(target, op.filename), op.chmod ?? 0o600);
        } finally {
          await this.worker.unmount(target);
          fs.rmSync(target, { recursive: true, force: true });
        }
        await this.worker.snapshotter.commit(snapshotName, active);
        return this.commitRecord(key, snapshotName, undefined, { kind: 'fs', layers: [], snapshot: async () => undefined }, v);
      });
    } finally {
      fs.rmSync(path, { force: true });
    }
  }
}

/** The key of a layer in LayerAccesses: an image layer's blob digest, else `snapshot:NAME`. */
export function layerAccessKey(l: LayerRecord): string {
  return l.existing ? l.existing.descriptor.digest : `snapshot:${l.snapshot}`;
}

/** a then b, each layer's paths in first-open order without repeats; undefined when neither recorded. */
export function mergeAccesses(a: LayerAccesses | undefined, b: LayerAccesses | undefined): LayerAccesses | undefined {
  if (!a || !b) return a ?? b;
  const out: LayerAccesses = { ...a };
  for (const [digest, files] of Object.entries(b)) out[digest] = out[digest] ? [...new Set([...out[digest], ...files])] : files;
  return out;
}

export function inputRefs(op: Op): Ref[] {
  switch (op.op) {
    case 'exec':
      return op.mounts.map((m) => m.input).filter((r): r is Ref => !!r);
    case 'file':
      return [op.base, ...op.actions.map((a) => (a.action === 'copy' ? a.src : null))].filter((r): r is Ref => !!r);
    case 'merge':
      return op.inputs;
    default:
      return [];
  }
}
