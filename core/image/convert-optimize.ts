// `convert --optimize`: the counterpart of `ctr-remote image optimize`. The image is unpacked into
// one directory, served read-only through our FUSE server (which reports every OPEN of a regular
// file), stacked under an overlay upperdir so the workload can write, and the workload runs with
// runc for `period` seconds or until it exits. Each opened path is attributed to the top-most layer
// that holds it, as ctr-remote's recorder does, and becomes a prioritized file of that layer.
import { createWriteStream, mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { applyLayer } from '../layer/apply.ts';
import { readTar } from '../layer/tar-reader.ts';
import { decompress } from '../worker/images.ts';
import { mountFuse } from '../../plugins/snapshotter-stargz/fuse/mount.ts';
import { RuncExecutor } from '../../plugins/executor-runc/executor.ts';
import { DEFAULT_PATH } from '../../plugins/executor-runc/spec.ts';
import type { SourceImage } from './convert.ts';
import type { RecordEntry } from './convert-record.ts';

/** Path of the fs module the FUSE workers load (an extra entrypoint of the compiled binary). */
export const DIRFS_MODULE = 'core/image/convert-dirfs.ts';

export interface OptimizeOptions {
  entrypoint?: string[];
  args?: string[];
  /** Seconds the workload may run before it is stopped. */
  period: number;
  tmpDir: string;
  /** edgebuild state dir (runc state goes under it). */
  root: string;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Workload output (default: dropped). */
  output?: (chunk: Uint8Array) => void;
}

export interface OptimizeResult {
  entries: RecordEntry[];
  byLayer: Map<number, string[]>;
  exitCode: number | undefined;
}

/** `--entrypoint` / `--args` values: a JSON array of strings. */
export function parseJsonArgv(text: string, flag: string): string[] {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new Error(`${flag} ${JSON.stringify(text)}: expected a JSON array of strings, e.g. ["/bin/sh","-c"]`);
  }
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error(`${flag} ${JSON.stringify(text)}: expected a JSON array of strings, e.g. ["/bin/sh","-c"]`);
  return v as string[];
}

const WH = '.wh.';
const OPAQUE = '.wh..wh..opq';
const clean = (name: string) => name.split('/').filter((s) => s && s !== '.').join('/');

/** Removes `dir` and everything under it from the owner map ("" clears all). */
function dropUnder(owner: Map<string, number>, dir: string): void {
  for (const k of owner.keys()) if (dir === '' || k.startsWith(dir + '/')) owner.delete(k);
}

class PeriodElapsed extends Error {}

export async function optimizeImage(image: SourceImage, opts: OptimizeOptions): Promise<OptimizeResult> {
  const cfg = (image.config.config ?? {}) as { Entrypoint?: string[] | null; Cmd?: string[] | null; Env?: string[] | null; WorkingDir?: string; User?: string };
  const argv = [...(opts.entrypoint ?? cfg.Entrypoint ?? []), ...(opts.args ?? (opts.entrypoint ? [] : (cfg.Cmd ?? [])))];
  if (argv.length === 0) throw new Error(`optimize ${image.manifestDigest}: the image has no entrypoint or command; give --entrypoint or --args`);
  mkdirSync(opts.tmpDir, { recursive: true });
  const work = await mkdtemp(join(opts.tmpDir, 'optimize-'));
  const rootfs = join(work, 'rootfs');
  const lower = join(work, 'lower');
  for (const d of [rootfs, lower, join(work, 'upper'), join(work, 'work')]) mkdirSync(d);
  let mount: Awaited<ReturnType<typeof mountFuse>> | undefined;
  try {
    const owner = new Map<string, number>();
    for (const [i, layer] of image.manifest.layers.entries()) {
      opts.log?.(`unpacking layer ${i + 1}/${image.manifest.layers.length} for the workload`);
      const tarPath = join(work, 'layer.tar');
      await pipeline(Readable.fromWeb(decompress(layer, await image.source.blob(layer)) as never), createWriteStream(tarPath));
      await readTar(Bun.file(tarPath).stream(), async (entry) => {
        const name = clean(entry.name);
        const base = name.slice(name.lastIndexOf('/') + 1);
        const dir = name.includes('/') ? name.slice(0, name.lastIndexOf('/')) : '';
        if (base === OPAQUE) dropUnder(owner, dir);
        else if (base.startsWith(WH)) {
          const gone = (dir ? dir + '/' : '') + base.slice(WH.length);
          owner.delete(gone);
          dropUnder(owner, gone);
        } else owner.set(name, i);
      });
      await applyLayer(rootfs, Bun.file(tarPath).stream(), { mode: 'native' });
      await rm(tarPath, { force: true });
    }

    const opened: string[] = [];
    const seen = new Set<string>();
    mount = await mountFuse({
      mountpoint: lower,
      fsModule: DIRFS_MODULE,
      fsInit: { dir: rootfs },
      options: { fsName: 'edgebuild-optimize' },
      onAccess: (r) => {
        if (r.path !== undefined && !seen.has(r.path)) {
          seen.add(r.path);
          opened.push(r.path);
        }
      },
      onError: (m) => opts.log?.(`fuse: ${m}`),
    });

    const exec = new RuncExecutor({ runc: Bun.which('runc') ?? '/usr/sbin/runc', root: join(opts.root, 'convert-runc') });
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new PeriodElapsed()), opts.period * 1000);
    const onOuter = () => stop.abort(opts.signal?.reason);
    opts.signal?.addEventListener('abort', onOuter, { once: true });
    let exitCode: number | undefined;
    opts.log?.(`running ${JSON.stringify(argv)}`);
    try {
      exitCode = (
        await exec.run({
          args: argv,
          env: cfg.Env?.length ? cfg.Env : [`PATH=${DEFAULT_PATH}`],
          cwd: cfg.WorkingDir || '/',
          user: cfg.User || 'root',
          network: 'none',
          mounts: [{ destination: '/', mounts: [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${lower}`, `upperdir=${join(work, 'upper')}`, `workdir=${join(work, 'work')}`] }] }],
          stdout: opts.output,
          stderr: opts.output,
          signal: stop.signal,
        })
      ).exitCode;
      opts.log?.(`workload exited with code ${exitCode}`);
    } catch (e) {
      if (!(stop.signal.reason instanceof PeriodElapsed)) throw e;
      opts.log?.(`workload stopped after ${opts.period}s`);
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onOuter);
    }

    const entries: RecordEntry[] = [];
    const byLayer = new Map<number, string[]>();
    for (const path of opened) {
      const layerIndex = owner.get(path);
      if (layerIndex === undefined) continue; // made by the workload itself (upperdir), or a landmark
      entries.push({ path, manifestDigest: image.manifestDigest, layerIndex });
      byLayer.set(layerIndex, [...(byLayer.get(layerIndex) ?? []), path]);
    }
    opts.log?.(`recorded ${entries.length} opened files`);
    return { entries, byLayer, exitCode };
  } finally {
    await mount?.unmount();
    await rm(work, { recursive: true, force: true });
  }
}
