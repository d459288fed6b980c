// Debian-built base images as OCI image layouts (oci-layout, index.json, blobs/sha256/…), made
// from the debootstrap rootfs and cached by name under <cacheDir>/images/<name>-<key>. Extra layers
// are made the way a Dockerfile RUN makes them: runc on an overlay of the base, then the
// upperdir's diff.
//
// First-build times on the 2-core dev machine (Debian mirror reachable), after the debootstrap
// rootfs (35-65 s, shared by all, see rootfs.ts):
//   debian-base  5-9 s  (1 layer: 29 MB gzip, 81 MB tree, slimmed like bookworm-slim)
//   python       ~17 s  (+ python3-minimal: 8.5 MB gzip)
//   golang       ~50 s  (+ golang-go with its source tree: 125 MB gzip)
//   gcc, jdk     see bench/images/README in the report (+ gcc/libc6-dev, + default-jdk-headless)
// Later calls return the cached layout at once.
import { createHash } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { diffDirs, diffOverlayUpper, type LayerStream } from '../../core/layer/diff.ts';
import { RuncExecutor } from '../../plugins/executor-runc/executor.ts';
import { DEFAULT_PATH } from '../../plugins/executor-runc/spec.ts';
import { ROOTFS_NAME, buildOnce, debianRootfs } from './rootfs.ts';

export type BaseImageName = 'debian-base' | 'golang' | 'python' | 'gcc' | 'jdk';

/** Fixed so equal trees give equal layers and configs on every machine. */
const SOURCE_DATE_EPOCH = 1_747_699_200; // 2025-05-20, the Debian snapshot date of the mirror
const CREATED = new Date(SOURCE_DATE_EPOCH * 1000).toISOString();

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface BuiltLayer {
  descriptor: Descriptor;
  diffID: string;
  createdBy: string;
}

const MEDIA = {
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
};

function writeBlob(layout: string, bytes: Uint8Array, mediaType: string): Descriptor {
  const hex = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(layout, 'blobs/sha256', hex), bytes);
  return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
}

/** Gzips a layer stream into the layout's blobs; returns its descriptor and diffID. */
async function writeLayer(layout: string, layer: LayerStream, createdBy: string): Promise<BuiltLayer> {
  const tmp = join(layout, 'blobs', `layer-${process.pid}.tmp`);
  const hash = createHash('sha256');
  let size = 0;
  const gz = Readable.fromWeb(layer.stream as never).pipe(createGzip({ level: 6 }));
  const out = createWriteStream(tmp);
  for await (const chunk of gz as AsyncIterable<Buffer>) {
    hash.update(chunk);
    size += chunk.length;
    if (!out.write(chunk)) await new Promise((r) => out.once('drain', r));
  }
  await new Promise<void>((res, rej) => out.end((e?: Error | null) => (e ? rej(e) : res())));
  const hex = hash.digest('hex');
  renameSync(tmp, join(layout, 'blobs/sha256', hex));
  const { diffID } = await layer.done;
  return { descriptor: { mediaType: MEDIA.layer, digest: `sha256:${hex}`, size }, diffID, createdBy };
}

function writeIndex(layout: string, layers: BuiltLayer[], config: { Env: string[]; Cmd: string[] }): void {
  const cfg = {
    created: CREATED,
    architecture: 'amd64',
    os: 'linux',
    config,
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffID) },
    history: layers.map((l) => ({ created: CREATED, created_by: l.createdBy })),
  };
  const configDesc = writeBlob(layout, Buffer.from(JSON.stringify(cfg)), MEDIA.config);
  const manifest = { schemaVersion: 2, mediaType: MEDIA.manifest, config: configDesc, layers: layers.map((l) => l.descriptor) };
  const manifestDesc = writeBlob(layout, Buffer.from(JSON.stringify(manifest)), MEDIA.manifest);
  const index = { schemaVersion: 2, mediaType: MEDIA.index, manifests: [{ ...manifestDesc, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] };
  writeFileSync(join(layout, 'index.json'), JSON.stringify(index));
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

async function baseLayer(cacheDir: string, layout: string): Promise<BuiltLayer> {
  const rootfs = await debianRootfs(cacheDir);
  return writeLayer(layout, diffDirs(undefined, rootfs, { sourceDateEpoch: SOURCE_DATE_EPOCH }), 'debootstrap --variant=minbase bookworm');
}

/** Runs `script` with runc on an overlay of the base rootfs; the upperdir becomes a layer. */
async function runLayer(cacheDir: string, layout: string, script: string): Promise<BuiltLayer> {
  const rootfs = await debianRootfs(cacheDir);
  mkdirSync(join(cacheDir, 'images'), { recursive: true });
  const scratch = mkdtempSync(join(cacheDir, 'images', 'run-'));
  try {
    const upper = join(scratch, 'upper');
    const work = join(scratch, 'work');
    mkdirSync(upper);
    mkdirSync(work);
    const exec = new RuncExecutor({ runc: '/usr/sbin/runc', root: join(scratch, 'runc') });
    let log = '';
    const keep = (c: Uint8Array) => {
      log = (log + new TextDecoder().decode(c)).slice(-4000);
    };
    const { exitCode } = await exec.run({
      args: ['/bin/sh', '-c', script],
      env: [`PATH=${DEFAULT_PATH}`, 'DEBIAN_FRONTEND=noninteractive'],
      cwd: '/',
      user: 'root',
      network: 'default',
      mounts: [{ destination: '/', mounts: [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${rootfs}`, `upperdir=${upper}`, `workdir=${work}`] }] }],
      stdout: keep,
      stderr: keep,
    });
    if (exitCode !== 0) throw new Error(`image step "${script}" exited ${exitCode}: ${log.trim().split('\n').slice(-5).join(' | ')}`);
    return await writeLayer(layout, diffOverlayUpper(upper, { sourceDateEpoch: SOURCE_DATE_EPOCH, lowers: [rootfs] }), `/bin/sh -c ${script}`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

const aptInstall = (pkgs: string) =>
  `apt-get update -qq && apt-get install -y -qq --no-install-recommends ${pkgs} >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/* /var/log/apt /var/log/dpkg.log /var/cache/ldconfig/aux-cache`;

/** Each recipe is part of its image's cache key: editing one rebuilds only that image. */
const RECIPES: Record<BaseImageName, { steps: string[]; config: { Env: string[]; Cmd: string[] } }> = {
  'debian-base': { steps: [], config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['bash'] } },
  golang: { steps: [aptInstall('golang-go')], config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['go', 'version'] } },
  python: { steps: [aptInstall('python3-minimal')], config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['python3'] } },
  gcc: { steps: [aptInstall('gcc libc6-dev')], config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['gcc', '--version'] } },
  // The larger image: a JDK of several hundred MB (tree), most of it unused by javac + java.
  // update-alternatives links man pages into /usr/share/man/man1, which the slim rootfs lacks.
  jdk: { steps: ['mkdir -p /usr/share/man/man1 && ' + aptInstall('default-jdk-headless')], config: { Env: [`PATH=${DEFAULT_PATH}`], Cmd: ['java', '-version'] } },
};

export const BASE_IMAGE_NAMES = Object.keys(RECIPES) as BaseImageName[];

/** Where an image is cached: the name changes with the recipe and the base rootfs, so a stale
 *  layout is never reused. */
export function baseImageDir(cacheDir: string, name: BaseImageName): string {
  const key = createHash('sha256').update(JSON.stringify([RECIPES[name], ROOTFS_NAME, SOURCE_DATE_EPOCH])).digest('hex');
  return join(cacheDir, 'images', `${name}-${key.slice(0, 12)}`);
}

/** The OCI image layout dir of a base image (tag "latest"), built on first use. */
export async function baseImage(cacheDir: string, name: BaseImageName): Promise<string> {
  const recipe = RECIPES[name];
  if (!recipe) throw new Error(`unknown base image ${JSON.stringify(name)} (known: ${BASE_IMAGE_NAMES.join(', ')})`);
  await debianRootfs(cacheDir); // outside the image lock: its own lock serialises it
  return buildOnce(baseImageDir(cacheDir, name), async (tmp) => {
    mkdirSync(join(tmp, 'blobs/sha256'), { recursive: true });
    const layers = [await baseLayer(cacheDir, tmp)];
    for (const step of recipe.steps) layers.push(await runLayer(cacheDir, tmp, step));
    writeIndex(tmp, layers, recipe.config);
  });
}
