// `edgebuild convert --estargz|--zstdchunked [flags] SRC DST`: like `nerdctl image convert`, with
// `--optimize` doing what `ctr-remote image optimize` does (run the workload, record the files it
// opens, put them first in each layer).
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { clientFromContext } from '../../core/registry/from-config.ts';
import { parsePlatform } from '../../core/image/platform.ts';
import { parseTransport, dockerSource, dockerDestination, ociSource, ociDestination, describeTransport, type Transport, type ImageSource, type ImageDestination } from '../../core/image/transports.ts';
import type { RegistryClient } from '../../core/registry/client.ts';
import { shortDigest } from '../../core/content/digest.ts';
import { convertImage, type ConvertOptions, type LayerEvent } from '../../core/image/convert.ts';
import { readRecordFile, recordPaths, formatRecord, RecordFileError, type RecordEntry } from '../../core/image/convert-record.ts';
import { optimizeImage, parseJsonArgv } from '../../core/image/convert-optimize.ts';
import { formatBytes } from './transfer-progress.ts';
import { toUserError } from './image-errors.ts';
import { MediaType } from '../../core/image/media-types.ts';

export const convertCommand: Command = {
  name: 'convert',
  summary: 'Convert an image\'s layers to eStargz or zstd:chunked (lazily pullable)',
  help: `Usage: edgebuild convert (--estargz | --zstdchunked) [flags] SRC DST

SRC and DST are registry references (docker:// optional) or oci:DIR[:TAG]. Every layer is
decompressed and rewritten with a table of contents; the config's diff_ids and the manifest's
layer annotations (TOC digest, uncompressed size) are updated. Layers already in the target
format are kept. DST names the image only once every blob is written.

  --estargz                          gzip eStargz layers
  --zstdchunked                      zstd:chunked layers (needs --oci)
  --oci                              OCI media types (default: keep the source's Docker or OCI types)
  --estargz-compression-level N      gzip level 0-9 (default 9)
  --estargz-chunk-size N             bytes per chunk (default 4194304)
  --zstdchunked-compression-level N  zstd level 1-22 (default 3)
  --zstdchunked-chunk-size N         bytes per chunk (default 4194304)
  --estargz-record-in FILE           prioritize the files of a ctr-remote / --estargz-record-out record
  --platform os/arch[/variant]       the platform of an index to convert (default this host's)
  --all-platforms                    convert every platform of an index
  --optimize                         run the image's workload, record the files it opens and put
                                     them first in each layer (as ctr-remote image optimize)
    --entrypoint '["/bin/sh","-c"]'  override the entrypoint (JSON array)
    --args '["..."]'                 override the command (JSON array)
    --period SEC                     how long to run the workload at most (default 10)
    --estargz-record-out FILE        write the recorded accesses (ctr-remote's record format)
  --quiet, -q                        print only the digest`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('convert', args, [
      { name: 'estargz', type: 'boolean' },
      { name: 'zstdchunked', type: 'boolean' },
      { name: 'oci', type: 'boolean' },
      { name: 'estargz-compression-level', type: 'string' },
      { name: 'estargz-chunk-size', type: 'string' },
      { name: 'zstdchunked-compression-level', type: 'string' },
      { name: 'zstdchunked-chunk-size', type: 'string' },
      { name: 'estargz-record-in', type: 'string' },
      { name: 'estargz-record-out', type: 'string' },
      { name: 'platform', type: 'string' },
      { name: 'all-platforms', type: 'boolean' },
      { name: 'optimize', type: 'boolean' },
      { name: 'entrypoint', type: 'string' },
      { name: 'args', type: 'string' },
      { name: 'period', type: 'string' },
      { name: 'quiet', short: 'q', type: 'boolean' },
    ]);
    if (positionals.length !== 2) throw new UserError('convert: expected SRC and DST (edgebuild convert --estargz SRC DST)', 2);
    const label = `convert ${positionals[0]} to ${positionals[1]}`;
    const usage = (msg: string) => new UserError(`convert: ${msg}`, 2);
    if (Boolean(flags.estargz) === Boolean(flags.zstdchunked)) throw usage('give exactly one of --estargz and --zstdchunked');
    const format = flags.estargz ? 'gzip' : 'zstd-chunked';
    const prefix = flags.estargz ? 'estargz' : 'zstdchunked';
    const other = flags.estargz ? 'zstdchunked' : 'estargz';
    for (const k of ['compression-level', 'chunk-size']) if (flags[`${other}-${k}`] !== undefined) throw usage(`--${other}-${k} needs --${other}`);
    if (format === 'zstd-chunked' && !flags.oci) throw usage('--zstdchunked needs --oci (Docker media types have no zstd layer type)');
    const [lo, hi] = format === 'gzip' ? [0, 9] : [1, 22];
    const level = intFlag(flags[`${prefix}-compression-level`], `--${prefix}-compression-level`, lo, hi);
    const chunkSize = intFlag(flags[`${prefix}-chunk-size`], `--${prefix}-chunk-size`, 1, 2 ** 31);
    if (flags.platform !== undefined && flags['all-platforms']) throw usage('--platform and --all-platforms exclude each other');
    const optimize = Boolean(flags.optimize);
    for (const k of ['entrypoint', 'args', 'period', 'estargz-record-out']) if (flags[k] !== undefined && !optimize) throw usage(`--${k} needs --optimize`);
    if (optimize && flags['estargz-record-in'] !== undefined) throw usage('--optimize and --estargz-record-in exclude each other');
    if (optimize && flags['all-platforms']) throw usage('--optimize runs one platform: use --platform, not --all-platforms');
    const period = intFlag(flags.period, '--period', 1, 3600) ?? 10;

    try {
      const entrypoint = flags.entrypoint !== undefined ? parseJsonArgv(String(flags.entrypoint), '--entrypoint') : undefined;
      const cmdArgs = flags.args !== undefined ? parseJsonArgv(String(flags.args), '--args') : undefined;
      const prioritizedFiles = typeof flags['estargz-record-in'] === 'string' ? recordPaths(readRecordFile(flags['estargz-record-in'])) : undefined;
      const src = parseTransport(withDefaultTransport(positionals[0]));
      const dst = parseTransport(withDefaultTransport(positionals[1]));
      if (sameImage(src, dst)) throw new UserError(`${label}: source and destination are the same`);
      const platform = typeof flags.platform === 'string' ? parsePlatform(flags.platform) : undefined;
      const recordOut = typeof flags['estargz-record-out'] === 'string' ? resolve(flags['estargz-record-out']) : undefined;
      if (recordOut) checkWritableFile(recordOut);

      let client: RegistryClient | undefined;
      const needClient = async () => (client ??= await clientFromContext(ctx));
      const source: ImageSource = src.kind === 'docker' ? dockerSource(await needClient(), src.ref) : ociSource(src.dir, src.tag);
      const staged = dst.kind === 'oci' ? stageOciDir(dst.dir) : undefined;
      const dest: ImageDestination = dst.kind === 'docker' ? dockerDestination(await needClient(), dst.ref) : ociDestination(staged!.dir, dst.tag);
      dest.name = describeTransport(dst);

      const tmpDir = join(ctx.root, 'tmp');
      await mkdir(tmpDir, { recursive: true });
      const records: RecordEntry[] = [];
      const opts: ConvertOptions = {
        format,
        oci: Boolean(flags.oci),
        level,
        chunkSize,
        workers: availableParallelism(),
        all: Boolean(flags['all-platforms']),
        platform,
        prioritizedFiles,
        tmpDir,
        onLayer: (e) => {
          if (!flags.quiet) ctx.err(layerLine(e));
        },
        prioritize: optimize
          ? async (image) => {
              if (!flags.quiet) ctx.err(`convert: running the workload of ${shortDigest(image.manifestDigest)} for up to ${period}s to record file accesses`);
              const rec = await optimizeImage(image, { entrypoint, args: cmdArgs, period, tmpDir, root: ctx.root, signal: ctx.signal, log: (l) => (flags.quiet ? undefined : ctx.err(`convert: ${l}`)) });
              records.push(...rec.entries);
              return rec.byLayer;
            }
          : undefined,
      };
      let result;
      try {
        result = await convertImage(source, dest, opts);
        staged?.commit();
      } catch (e) {
        staged?.abort();
        throw e;
      }
      if (recordOut) writeFileSync(recordOut, formatRecord(records));
      if (result.manifests.some((m) => m.mediaType === MediaType.dockerManifest)) {
        ctx.err('convert: warning: the result keeps Docker media types; Docker schema2 defines no layer annotations, so some registries and pullers drop the TOC digest and lazy pulls cannot verify it (use --oci)');
      }
      if (!flags.quiet) {
        const layers = result.manifests.flatMap((m) => m.layers);
        const n = layers.filter((l) => l.converted).length;
        ctx.err(`converted ${source.name} to ${dest.name}: ${n} layer${n === 1 ? '' : 's'} converted, ${layers.length - n} kept${recordOut ? `; ${records.length} accesses recorded in ${recordOut}` : ''}`);
      }
      ctx.out(result.digest);
      return 0;
    } catch (e) {
      if (e instanceof RecordFileError) throw new UserError(`${label}: ${e.message}`);
      const known = toUserError(e, label);
      if (known instanceof UserError) throw known;
      throw new UserError(`${label}: ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    }
  },
};

function intFlag(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const s = String(value);
  const n = /^-?\d+$/.test(s) ? Number(s) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UserError(`convert: ${name} ${JSON.stringify(s)}: expected an integer from ${min} to ${max}`, 2);
  return n;
}

/** Bare references are registry references, as in nerdctl. */
function withDefaultTransport(text: string): string {
  return text.startsWith('oci:') || text.startsWith('docker://') || /^[a-z0-9]+:\/\//.test(text) ? text : `docker://${text}`;
}

function sameImage(a: Transport, b: Transport): boolean {
  if (a.kind === 'oci' && b.kind === 'oci') return resolve(a.dir) === resolve(b.dir) && a.tag === b.tag;
  if (a.kind === 'docker' && b.kind === 'docker') return a.ref.registry === b.ref.registry && a.ref.repository === b.ref.repository && a.ref.tag === b.ref.tag && a.ref.digest === b.ref.digest;
  return false;
}

function checkWritableFile(path: string): void {
  const probe = join(dirname(path), `.${basename(path)}.probe-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (e) {
    throw new UserError(`convert: --estargz-record-out ${path}: not writable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * A new OCI layout is written under a temp name beside DIR and renamed into place at the end, so a
 * failed conversion leaves nothing. An existing layout gets its blobs first and index.json last.
 */
function stageOciDir(dir: string): { dir: string; commit(): void; abort(): void } {
  const final = resolve(dir);
  if (existsSync(final)) {
    if (!statSync(final).isDirectory()) throw new UserError(`convert: oci:${dir}: exists and is not a directory`);
    return { dir: final, commit() {}, abort() {} };
  }
  const tmp = join(dirname(final), `.${basename(final)}.convert-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(tmp, { recursive: true });
  } catch (e) {
    throw new UserError(`convert: oci:${dir}: cannot create (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return {
    dir: tmp,
    commit: () => renameSync(tmp, final),
    abort: () => rmSync(tmp, { recursive: true, force: true }),
  };
}

function layerLine(e: LayerEvent): string {
  const head = `layer ${e.index + 1}/${e.total} ${shortDigest(e.from.digest)} ${formatBytes(e.from.size)}`;
  if (!e.converted) return `${head}: kept (already ${e.to.mediaType.endsWith('zstd') ? 'zstd:chunked' : 'eStargz'})`;
  const extra = [`${formatBytes(e.uncompressedSize ?? 0)} uncompressed`, ...(e.prioritized ? [`${e.prioritized} prioritized`] : [])].join(', ');
  return `${head} -> ${shortDigest(e.to.digest)} ${formatBytes(e.to.size)} (${extra})`;
}

