// A small result image for exporter tests: a rootfs with a file, an executable, a symlink, a hard
// link and a setuid file, built from two layers whose tars come from core/export's own writer.
import { createHash } from 'node:crypto';
import { chmodSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { gzipSync } from 'node:zlib';
import type { Compressor, ExportInput, ExportLayer } from '../../../core/export/types.ts';
import { writeRootfsTar } from '../../../core/export/rootfs-tar.ts';
import { gzipCompressor } from '../../../plugins/compressor-gzip/index.ts';
import { zstdCompressor } from '../../../plugins/compressor-zstd/index.ts';
import { uncompressedCompressor } from '../../../plugins/compressor-uncompressed/index.ts';
import { MediaType } from '../../../core/image/media-types.ts';
import { lgetxattr, llistxattr, lsetxattr, mknod, S_IFCHR, S_IFIFO } from '../../../core/layer/libc.ts';

const made: string[] = [];
/** Removes the directories tmp() made; each test file calls it in afterAll. */
export function removeTemps(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}
/** A temp directory, removed by removeTemps(). */
export const tmp = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), `eb-${prefix}-`));
  made.push(d);
  return d;
};
export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
export const streamOf = (b: Uint8Array) => new Response(b).body as ReadableStream<Uint8Array>;
export const quiet = { log: () => {} };
export const compressors = () => new Map<string, Compressor>([['gzip', gzipCompressor()], ['zstd', zstdCompressor()], ['uncompressed', uncompressedCompressor()]]);

const T = 1_700_000_000;

/** Layer 1: bin/ with an executable and a setuid file. */
function writeLower(dir: string): void {
  mkdirSync(join(dir, 'bin'), { recursive: true });
  writeFileSync(join(dir, 'bin/tool'), '#!/bin/sh\necho tool\n');
  chmodSync(join(dir, 'bin/tool'), 0o755);
  writeFileSync(join(dir, 'bin/su-ish'), 'x');
  chmodSync(join(dir, 'bin/su-ish'), 0o4755);
  utimesSync(join(dir, 'bin/tool'), T, T);
  utimesSync(join(dir, 'bin/su-ish'), T, T);
  utimesSync(join(dir, 'bin'), T, T);
}

/** Layer 2: etc/ with a config, a hard link to it, a symlink and a long path. */
function writeUpper(dir: string): void {
  const deep = join(dir, 'etc', 'a'.repeat(60), 'b'.repeat(60));
  mkdirSync(deep, { recursive: true });
  writeFileSync(join(dir, 'etc/conf'), 'key=value\n'.repeat(1000));
  chmodSync(join(dir, 'etc/conf'), 0o640);
  linkSync(join(dir, 'etc/conf'), join(dir, 'etc/conf.hard'));
  symlinkSync('../bin/tool', join(dir, 'etc/tool-link'));
  mknod(join(dir, 'etc/pipe'), S_IFIFO | 0o600);
  mknod(join(dir, 'etc/null'), S_IFCHR | 0o666, 1, 3);
  lsetxattr(join(dir, 'etc/conf'), 'user.origin', new TextEncoder().encode('fixture'));
  writeFileSync(join(deep, 'deep.txt'), 'deep\n');
  for (const p of [join(deep, 'deep.txt'), deep, join(dir, 'etc', 'a'.repeat(60)), join(dir, 'etc/conf')]) utimesSync(p, T, T);
}

async function tarBytes(dir: string): Promise<Uint8Array> {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c) => chunks.push(c));
  // Clamped to T: directories and links get the creation time otherwise, which differs between runs.
  await writeRootfsTar(dir, out, T);
  out.end();
  return Buffer.concat(chunks);
}

export interface Fixture {
  input: ExportInput;
  rootfs: string;
  tars: Uint8Array[];
  /** gzip of layer 1, offered as its `existing` blob when asked. */
  lowerGzip: Uint8Array;
}

export async function makeFixture(opts: { existingLower?: boolean; epoch?: number } = {}): Promise<Fixture> {
  const base = tmp('fixture');
  const lower = join(base, 'lower');
  const upper = join(base, 'upper');
  const rootfs = join(base, 'rootfs');
  for (const [d, f] of [[lower, writeLower], [upper, writeUpper], [rootfs, writeLower], [rootfs, writeUpper]] as const) {
    mkdirSync(d, { recursive: true });
    f(d);
  }
  const tars = [await tarBytes(lower), await tarBytes(upper)];
  const lowerGzip = gzipSync(tars[0], { level: 1 });
  const layers: ExportLayer[] = tars.map((t) => ({ diffID: sha256(t), openTar: async () => streamOf(t) }));
  if (opts.existingLower) {
    layers[0].existing = {
      descriptor: { mediaType: MediaType.dockerLayerGzip, digest: sha256(lowerGzip), size: lowerGzip.length },
      open: async () => streamOf(lowerGzip),
    };
  }
  const input: ExportInput = {
    rootfs,
    layers,
    scratch: false,
    sourceDateEpoch: opts.epoch,
    imageConfig: {
      architecture: 'amd64',
      os: 'linux',
      created: '2031-01-01T00:00:00Z',
      config: { Cmd: ['/bin/tool'], Env: ['PATH=/bin'] },
      history: [
        { created: '2031-01-01T00:00:00Z', created_by: 'COPY lower /' },
        { created: '2001-01-01T00:00:00Z', created_by: 'COPY upper /' },
      ],
    },
  };
  return { input, rootfs, tars, lowerGzip };
}

/** A comparable description of a tree: type, mode, owner, content hash or link, hard-link groups. */
export function describeTree(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const inodes = new Map<number, string>();
  const walk = (dir: string, rel: string) => {
    for (const name of readdirSync(dir).sort()) {
      const abs = join(dir, name);
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(abs);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isDirectory()) {
        out[r] = `dir ${mode} ${st.uid}:${st.gid}`;
        walk(abs, r);
      } else if (st.isSymbolicLink()) {
        out[r] = `symlink -> ${readlinkSync(abs)}`;
      } else if (st.isFIFO()) {
        out[r] = `fifo ${mode}`;
      } else if (st.isCharacterDevice()) {
        out[r] = `char ${mode} ${st.rdev}`;
      } else {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (st.nlink > 1 && !first) inodes.set(st.ino, r);
        const xattrs = llistxattr(abs).sort().map((k) => `${k}=${lgetxattr(abs, k)}`).join(',');
        out[r] = `file ${mode} ${st.uid}:${st.gid} ${sha256(readFileSync(abs))}${first ? ` hardlink of ${first}` : ''}${xattrs ? ` xattrs ${xattrs}` : ''}`;
      }
    }
  };
  walk(root, '');
  return out;
}
