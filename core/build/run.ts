// One build, start to end: the frontend turns the request into a graph, the solver runs it on a
// worker, each exporter takes the result. Used in-process by `edgebuild build` and by the daemon.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Frontend, ResolvedImage } from '../frontend/types.ts';
import type { BuildGraph, Platform } from '../graph/ops.ts';
import type { ExportInput, ExportLayer, Exporter } from '../export/types.ts';
import type { ProgressStream } from '../progress/events.ts';
import type { PluginHost } from '../plugin/host.ts';
import { resolveInRoot } from '../layer/securejoin.ts';
import { ownedPrefix } from '../layer/owner.ts';
import { Solver, type FsResult } from '../solver/solver.ts';
import type { PathFilter } from '../solver/fileops.ts';
import type { ImageInfo, Worker } from '../solver/worker.ts';
import type { RegistryClient } from '../registry/client.ts';
import type { ContentStore } from '../content/store.ts';
import type { Compressor } from '../export/types.ts';
import type { CacheExportSpec, CacheImportSpec } from '../cache/spec.ts';
import { importCaches } from '../cache/import.ts';
import { exportCache, inlineCache } from '../cache/export.ts';
import { INLINE_CACHE_KEY } from '../cache/format.ts';
import { IMAGE_EXPORTERS, parseImageAttrs } from '../export/image-attrs.ts';
import { isAccessRecorder, type LayerAccesses } from '../snapshot/types.ts';
import { layerAccessKey } from '../solver/solver.ts';
import { LocalAccessRecorder } from './record-local.ts';
import type { LayerRecord } from '../solver/worker.ts';
import { phase } from '../progress/phases.ts';

export interface OutputSpec {
  type: string;
  attrs: Record<string, string>;
}

export interface BuildRequest {
  frontend: string;
  opts: Record<string, string>;
  locals: Record<string, string>;
  secrets: Record<string, Uint8Array>;
  outputs: OutputSpec[];
  noCache: boolean;
  /** --export-cache / --import-cache */
  cacheExports?: CacheExportSpec[];
  cacheImports?: CacheImportSpec[];
}

export interface BuildServices {
  host: PluginHost;
  worker: Worker;
  progress: ProgressStream;
  hostPlatform: Platform;
  compileFilter: (patterns: string[]) => PathFilter;
  signal?: AbortSignal;
  /** Registry client and content store for cache import/export (required when the request asks). */
  cache?: { client: RegistryClient; store: ContentStore };
  /**
   * The build owns the worker (`edgebuild build`): lazy layers record opened files only when an
   * output asks for estargz-optimize (files open without a FUSE round trip otherwise). A daemon's
   * worker, shared by builds, keeps recording.
   */
  ownsWorker?: boolean;
}

export interface BuildOutcome {
  graph: BuildGraph;
  exports: { type: string; digest?: string; notes: string[] }[];
}

/** Layer types whose exporters need layer tars; local and tar only read the rootfs. */
const NEEDS_LAYERS = new Set(['image', 'oci', 'docker', 'registry']);

export async function runBuild(req: BuildRequest, svc: BuildServices): Promise<BuildOutcome> {
  const frontend = svc.host.get<Frontend>(`frontend.${req.frontend}`);
  const exporters = req.outputs.map((o) => ({ spec: o, exporter: svc.host.get<Exporter>(`exporter.${o.type}`) }));
  const optimize = checkEstargzOptimize(req.outputs, svc.worker);
  const snap = svc.worker.snapshotter;
  if (svc.ownsWorker && isAccessRecorder(snap)) snap.setAccessRecording?.(optimize);
  const resolved = new Map<string, Promise<ImageInfo>>();
  const resolve = (ref: string, platform: Platform) => {
    const k = `${ref}|${platform.os}/${platform.architecture}/${platform.variant ?? ''}`;
    if (!resolved.has(k)) {
      resolved.set(
        k,
        svc.worker.images.resolve(ref, platform).catch((e: Error) => {
          throw new Error(e.message.includes(ref) ? e.message : `resolving image ${ref}: ${e.message}`);
        }),
      );
    }
    return resolved.get(k)!;
  };
  // One resolution per reference for the whole build (frontend and solver share it).
  const base = svc.worker.images;
  const worker: Worker = {
    ...svc.worker,
    images: { resolve: (r, p) => resolve(r, p), unpack: (i, p, s) => base.unpack(i, p, s), openBlob: (i, d) => base.openBlob(i, d) },
  };
  for (const s of Object.values(req.secrets)) svc.progress.redact(new TextDecoder().decode(s).trim());

  const filename = req.opts.filename ?? 'Dockerfile';
  const graph = await svc.progress.vertex('load-definition', `[internal] load build definition from ${filename}`, () =>
    frontend.solve({
      opts: req.opts,
      hostPlatform: svc.hostPlatform,
      readLocalFile: async (name, path) => {
        const dir = req.locals[name];
        if (!dir) return null;
        try {
          return new Uint8Array(fs.readFileSync(resolveInRoot(dir, path, true)));
        } catch {
          return null;
        }
      },
      resolveImageConfig: async (ref, platform): Promise<ResolvedImage> => {
        const img = await resolve(ref, platform);
        return { ref: img.ref, digest: img.digest, config: img.config.config ?? {}, history: img.config.history ?? [], platform: img.platform };
      },
    }),
  );

  const cacheImports = req.cacheImports ?? [];
  const cacheExports = req.cacheExports ?? [];
  if ((cacheImports.length || cacheExports.length) && !svc.cache) throw new Error('this worker cannot import or export build cache');
  const remoteCache = cacheImports.length
    ? await svc.progress.vertex('import-cache', '[internal] importing cache manifests', (p) =>
        importCaches(cacheImports, {
          ...svc.cache!,
          snapshotter: svc.worker.snapshotter,
          log: (l) => p.log(l + '\n'),
          step: (name, fn) => svc.progress.vertex(`import-cache/${randomBytes(4).toString('hex')}`, name, fn),
        }),
      )
    : undefined;
  // estargz-optimize: RUN steps also record what they open in layers that are plain dirs.
  const localRecorder = optimize ? new LocalAccessRecorder(join(svc.worker.root, 'tmp'), (l) => console.error(`edgebuild: ${l}`)) : undefined;
  const solver = new Solver(graph, worker, {
    localRecorder,
    remoteCache,
    locals: req.locals,
    secrets: req.secrets,
    noCache: req.noCache,
    progress: svc.progress,
    signal: svc.signal,
    compileFilter: svc.compileFilter,
  });
  phase('solve-start');
  const result = await solver.solve().finally(() => localRecorder?.close());
  phase('solved');
  if (result.kind !== 'fs') throw new Error('build result is a local source, not a filesystem');
  const exports: BuildOutcome['exports'] = [];
  // Hoisted below: exporters read the mounted result, then cache export runs.
  if (exporters.length) await runExporters();
  phase('exported');
  for (const spec of cacheExports) {
    if (spec.type === 'inline') continue;
    const note = await svc.progress.vertex(`export-cache-${spec.type}`, `exporting cache to ${spec.type === 'registry' ? spec.ref : spec.dest}`, (p) =>
      exportCache(spec, solver.solved, result.layers, {
        ...svc.cache!,
        worker: svc.worker,
        compressors: new Map(svc.host.all<Compressor>('compressor').map(({ id, instance }) => [id, instance])),
        log: (l) => p.log(l + '\n'),
        signal: svc.signal,
      }),
    );
    exports.push({ type: `cache-${spec.type}`, notes: [note] });
  }
  return { graph, exports };

  async function runExporters(): Promise<void> {
    if (result.kind !== 'fs') return;
    const epoch = sourceDateEpoch(req.opts);
    const baseImage = graph.image.baseImage ? await resolve(graph.image.baseImage, graph.image.platform) : undefined;
    const needLayers = exporters.some((e) => NEEDS_LAYERS.has(e.spec.type));
    const tmp = fs.mkdtempSync(join(svc.worker.root, 'tmp', ownedPrefix('export-')));
    const rootfs = join(tmp, 'rootfs');
    fs.mkdirSync(rootfs);
    const viewKey = `view/export-${randomBytes(6).toString('hex')}`;
    let mounted = false;
    try {
      const top = await result.snapshot();
      if (top) {
        await svc.worker.mount(await svc.worker.snapshotter.view(viewKey, top), rootfs);
        mounted = true;
      }
      const layers = needLayers ? await exportLayers(result, svc.worker, tmp, epoch) : [];
      if (needLayers) attachAccesses(layers, result.layers, result.accessed);
      const config = imageConfig(graph, baseImage, layers, epoch);
      if (cacheExports.some((c) => c.type === 'inline')) config[INLINE_CACHE_KEY] = inlineCache(solver.solved, result.layers);
      const input: ExportInput = {
        rootfs,
        layers,
        imageConfig: config,
        scratch: result.layers.length === 0,
        sourceDateEpoch: epoch,
      };
      for (const { spec, exporter } of exporters) {
        const out = await svc.progress.vertex(`export-${spec.type}-${exports.length}`, `exporting to ${spec.type === 'local' ? 'client directory' : spec.type}`, (p) =>
          exporter.export(input, spec.attrs, { log: (l) => p.log(l + '\n') }, svc.signal),
        );
        exports.push({ type: spec.type, digest: out.digest, notes: out.notes });
      }
    } finally {
      if (mounted) await svc.worker.unmount(rootfs).catch(() => {});
      await svc.worker.snapshotter.remove(viewKey).catch(() => {});
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
}

/** Snapshotters whose layers are overlay lowerdirs, one dir per layer: recordable (see record-local.ts). */
const RECORDABLE_SNAPSHOTTERS = ['overlay', 'stargz'];

/** Whether an output asks for estargz-optimize. It is refused before anything runs when it cannot
 *  work: on an exporter that writes no image layers, with another compression, or on a snapshotter
 *  whose layers cannot be recorded. */
export function checkEstargzOptimize(outputs: OutputSpec[], worker: Worker): boolean {
  let wanted = false;
  for (const o of outputs) {
    if (!('estargz-optimize' in o.attrs)) continue;
    if (!IMAGE_EXPORTERS.includes(o.type)) throw new Error(`--output type=${o.type}: estargz-optimize applies only to type=image, registry, oci or docker`);
    if (!parseImageAttrs(o.type, o.attrs, { oci: true }).estargzOptimize) continue;
    if (!isAccessRecorder(worker.snapshotter) && !RECORDABLE_SNAPSHOTTERS.includes(worker.snapshotterId ?? '')) {
      throw new Error(`--output type=${o.type}: estargz-optimize=true needs the overlay or stargz snapshotter to record file accesses (this build uses ${worker.snapshotterId ?? 'another snapshotter'})`);
    }
    wanted = true;
  }
  return wanted;
}

/** Gives each output layer the files the output's steps opened in it: image layers by blob
 *  digest, built layers by snapshot name; overlay opens a file in the top-most layer holding it,
 *  so a shadowed copy is never counted. Reads of other images (COPY --from=IMAGE) do not count. */
export function attachAccesses(layers: ExportLayer[], chain: LayerRecord[], accessed: LayerAccesses | undefined): void {
  if (!accessed) return;
  layers.forEach((layer, i) => {
    layer.accessed = [...(accessed[layerAccessKey(chain[i])] ?? [])];
  });
}

export function sourceDateEpoch(opts: Record<string, string>): number | undefined {
  const v = opts['build-arg:SOURCE_DATE_EPOCH'] ?? process.env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new Error(`SOURCE_DATE_EPOCH must be whole seconds since 1970, got ${JSON.stringify(v)}`);
  return Number(v);
}

/** Layers of the result: base image blobs as they are; each step's diff written once to a temp
 *  file so its diffID is known before any exporter reads it. */
async function exportLayers(result: FsResult, worker: Worker, tmp: string, epoch?: number): Promise<ExportLayer[]> {
  const out: ExportLayer[] = [];
  for (const [i, l] of result.layers.entries()) {
    if (l.existing) {
      const ex = l.existing;
      if (!l.diffID) throw new Error(`layer ${ex.descriptor.digest} of ${ex.imageRef} has no diff_id in its image config`);
      out.push({
        diffID: l.diffID,
        createdBy: l.createdBy,
        existing: { descriptor: ex.descriptor, sourceRepository: ex.repository, open: () => worker.images.openBlob({ ref: ex.imageRef, repository: ex.repository }, ex.descriptor) },
        openTar: async () => {
          const { createGunzip } = await import('node:zlib');
          const { Readable } = await import('node:stream');
          const blob = await worker.images.openBlob({ ref: ex.imageRef, repository: ex.repository }, ex.descriptor);
          const node = Readable.fromWeb(blob as any);
          const mt = ex.descriptor.mediaType;
          if (mt.endsWith('gzip')) return Readable.toWeb(node.pipe(createGunzip())) as ReadableStream<Uint8Array>;
          if (mt.endsWith('zstd')) {
            const zlib = (await import('node:zlib')) as any;
            if (!zlib.createZstdDecompress) throw new Error(`layer ${ex.descriptor.digest}: zstd decompression is unavailable`);
            return Readable.toWeb(node.pipe(zlib.createZstdDecompress())) as ReadableStream<Uint8Array>;
          }
          return blob;
        },
      });
      continue;
    }
    const path = join(tmp, `layer-${i}.tar`);
    const tar = await worker.diff(l.snapshot, l.parent, { sourceDateEpoch: epoch });
    const hash = createHash('sha256');
    const file = fs.openSync(path, 'w');
    try {
      for await (const chunk of tar as unknown as AsyncIterable<Uint8Array>) {
        hash.update(chunk);
        fs.writeSync(file, chunk);
      }
    } finally {
      fs.closeSync(file);
    }
    out.push({
      diffID: 'sha256:' + hash.digest('hex'),
      createdBy: l.createdBy,
      openTar: async () => Bun.file(path).stream(),
    });
  }
  return out;
}

function imageConfig(graph: BuildGraph, base: ImageInfo | undefined, layers: ExportLayer[], epoch?: number): Record<string, unknown> {
  const created = epoch !== undefined ? new Date(epoch * 1000).toISOString().replace('.000Z', 'Z') : new Date().toISOString();
  const baseHistory = (base?.config.history ?? []) as Record<string, unknown>[];
  const history = [
    ...baseHistory,
    ...graph.image.history.map((h) => ({ ...h, created: epoch !== undefined ? created : (h.created ?? created) })),
  ];
  const p = graph.image.platform;
  return {
    architecture: p.architecture,
    os: p.os,
    ...(p.variant ? { variant: p.variant } : {}),
    created,
    config: graph.image.config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history,
  };
}
