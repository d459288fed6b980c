// The fuzz targets: each names its seed corpus, how inputs are made from it, and which errors
// count as clear rejections.
import { FrontendError } from '../../core/frontend/types.ts';
import { parseDockerfile, dockerfileFrontend, parseIgnoreFile, compileIgnore, compileFilter } from '../../plugins/frontend-dockerfile/index.ts';
import { parseReference, formatReference, ReferenceError } from '../../core/registry/reference.ts';
import { parseManifest, assertImageManifest, ImageFormatError } from '../../core/image/manifest.ts';
import { parseImageConfig } from '../../core/image/config.ts';
import { readTar } from '../../core/layer/tar-reader.ts';
import { parseToc, parseEstargzFooter, parseLegacyFooter, parseZstdFooter, openEstargz, bytesSource, EstargzError, buildEstargz, writeEstargzFooter } from '../../plugins/snapshotter-stargz/estargz/index.ts';
import { Dispatcher } from '../../plugins/snapshotter-stargz/fuse/dispatcher.ts';
import { decodeRequest } from '../../plugins/snapshotter-stargz/fuse/codec.ts';
import { IN_HEADER_SIZE, Opcode } from '../../plugins/snapshotter-stargz/fuse/abi.ts';
import { DEFAULT_FUSE_OPTIONS } from '../../plugins/snapshotter-stargz/fuse/mount.ts';
import { createFs } from '../plugins/snapshotter-stargz/fuse/memfs.ts';
import { SAMPLE } from '../plugins/snapshotter-stargz/fuse/harness.ts';
import { request as frontendRequest } from '../plugins/frontend-dockerfile/helpers.ts';
import { makeTar } from '../core/layer/fixtures.ts';
import { int, isClearMessage, mutateBytes, mutateJson, pick, type Rng, type Target } from './engine.ts';

const enc = new TextEncoder();
const dec = new TextDecoder();
const LAYER = 'sha256:' + 'f'.repeat(64);

// ------------------------------------------------------------------ Dockerfile parser

const DOCKERFILES = [
  'FROM debian:bookworm AS build\nARG V=1\nENV A=$V B="x y"\nRUN --mount=type=cache,target=/c apt-get update && \\\n  apt-get install -y gcc\nCOPY --chown=1:2 --chmod=755 a b /dst/\nWORKDIR /src\nFROM scratch\nCOPY --from=build /src/out /\nENTRYPOINT ["/out"]\n',
  '# syntax=docker/dockerfile:1\n# escape=`\nFROM base\nRUN echo a `\n  b\nHEALTHCHECK --interval=5s CMD ["true"]\nONBUILD RUN x\nEXPOSE 80/tcp 53/udp\nLABEL a=b "c d"=e\nSTOPSIGNAL SIGTERM\nSHELL ["/bin/sh","-c"]\nVOLUME ["/v"]\nUSER 1000:1000\n',
  'FROM base\nRUN <<EOF bash\nset -e\necho "${X:-default}"\nEOF\nCOPY <<-EOT /etc/conf\n\tkey=${V:+set}\nEOT\nADD --checksum=sha256:' + 'a'.repeat(64) + ' https://example.com/x /x\nCMD echo hi\n',
];

export const dockerfileTarget: Target<string> = {
  name: 'Dockerfile parser + frontend',
  ciIterations: 10000,
  generate: (r) => dec.decode(mutateBytes(r, enc.encode(pick(r, DOCKERFILES)), enc.encode(pick(r, DOCKERFILES)))),
  async run(text) {
    parseDockerfile(text);
    // Every few inputs through the whole frontend (stage graph, expansion, instruction flags).
    if (text.length % 3 === 0) await dockerfileFrontend.solve(frontendRequest(text, { images: { base: { config: {} }, 'debian:bookworm': { config: {} } } }));
  },
  clear: (e) => e instanceof FrontendError && isClearMessage(e) && /^Dockerfile(:\d+)?: /.test((e as Error).message),
};

// ------------------------------------------------------------------ .dockerignore

const IGNORE_ATOMS = ['*', '**', '?', '[a-c]', '[!x]', '[', ']', '\\', '!', '/', '.', '..', 'a', 'b', 'node_modules', '*.go', '#', ' ', '\n', '\r\n', '{a,b}', '^', '$', '(', ')', '+', '|'];
const PATH_ATOMS = ['a', 'b', 'node_modules', 'x.go', '.', '..', '', '[', '*', 'é', ' ', '\\'];

export const dockerignoreTarget: Target<{ file: string; paths: string[] }> = {
  name: '.dockerignore matcher',
  ciIterations: 20000,
  generate: (r) => ({
    file: Array.from({ length: 1 + int(r, 12) }, () => pick(r, IGNORE_ATOMS)).join(''),
    paths: Array.from({ length: 4 }, () => Array.from({ length: 1 + int(r, 4) }, () => pick(r, PATH_ATOMS)).join('/')),
  }),
  run({ file, paths }) {
    const patterns = parseIgnoreFile(file);
    const m = compileIgnore(patterns);
    const f = compileFilter(patterns);
    for (const p of paths) {
      const a = m(p);
      if (typeof a !== 'boolean' || a !== m(p)) throw new Error('matcher is not deterministic');
      f.excluded(p, false);
      f.mayContainIncluded(p);
    }
  },
  clear: (e) => isClearMessage(e) && !/not deterministic/.test((e as Error).message),
};

// ------------------------------------------------------------------ references

const REF_ATOMS = ['docker.io', 'library', 'localhost', '127.0.0.1', ':5000', '[::1]', 'a', 'B', 'app', '/', ':', '@', 'sha256:', 'a'.repeat(64), '-', '_', '__', '.', 'v1.0', ':latest', 'x'.repeat(130), '%', ' ', '//'];

export const referenceTarget: Target<string> = {
  name: 'reference parser',
  ciIterations: 30000,
  generate: (r) => Array.from({ length: 1 + int(r, 8) }, () => pick(r, REF_ATOMS)).join(''),
  run(text) {
    const ref = parseReference(text);
    // Property: what we print parses back to the same reference.
    const again = parseReference(formatReference(ref));
    if (JSON.stringify(again) !== JSON.stringify(ref)) throw new Error(`round trip changed ${JSON.stringify(text)}: ${JSON.stringify(ref)} → ${JSON.stringify(again)}`);
  },
  clear: (e) => e instanceof ReferenceError && isClearMessage(e) && (e as Error).message.startsWith('invalid reference '),
};

// ------------------------------------------------------------------ manifests, indexes, configs

const D = (c: string) => 'sha256:' + c.repeat(64);
const MANIFEST_SEEDS: { doc: unknown; type: string }[] = [
  { type: 'application/vnd.oci.image.manifest.v1+json', doc: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: D('a'), size: 100 }, layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: D('b'), size: 1000, annotations: { 'containerd.io/snapshot/stargz/toc.digest': D('c') } }] } },
  { type: 'application/vnd.oci.image.index.v1+json', doc: { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: D('d'), size: 500, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } }] } },
  { type: 'application/vnd.docker.distribution.manifest.v2+json', doc: { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: D('e'), size: 10 }, layers: [] } },
  { type: '', doc: { schemaVersion: 2, manifests: [] } },
];

export const manifestTarget: Target<{ bytes: Uint8Array; type: string }> = {
  name: 'manifest/index schema',
  ciIterations: 15000,
  generate(r) {
    const seed = pick(r, MANIFEST_SEEDS);
    let doc = seed.doc;
    for (let k = int(r, 4); k >= 0; k--) doc = mutateJson(r, doc);
    let bytes: Uint8Array = enc.encode(JSON.stringify(doc));
    if (r() < 0.25) bytes = mutateBytes(r, bytes);
    return { bytes, type: r() < 0.8 ? seed.type : pick(r, MANIFEST_SEEDS).type };
  },
  run({ bytes, type }) {
    const m = parseManifest(bytes, type, 'fuzz/app:1');
    if (m.kind === 'manifest') assertImageManifest(m.manifest, 'fuzz/app:1');
  },
  clear: (e) => e instanceof ImageFormatError && isClearMessage(e) && (e as Error).message.includes('fuzz/app:1'),
};

const CONFIG_SEED = {
  architecture: 'amd64', os: 'linux', created: '2024-01-02T03:04:05Z',
  config: { Env: ['PATH=/bin'], Cmd: ['sh'], Entrypoint: null, WorkingDir: '/', User: '0', Labels: { a: 'b' }, ExposedPorts: { '80/tcp': {} }, Healthcheck: { Test: ['CMD', 'true'], Interval: 1000 } },
  rootfs: { type: 'layers', diff_ids: [D('1')] },
  history: [{ created_by: 'x', empty_layer: true }],
};

export const configTarget: Target<Uint8Array> = {
  name: 'image config schema',
  ciIterations: 12000,
  generate(r) {
    let doc: unknown = CONFIG_SEED;
    for (let k = int(r, 4); k >= 0; k--) doc = mutateJson(r, doc);
    const bytes = enc.encode(JSON.stringify(doc));
    return r() < 0.25 ? mutateBytes(r, bytes) : bytes;
  },
  run: (bytes) => void parseImageConfig(bytes, D('9')),
  clear: (e) => e instanceof ImageFormatError && isClearMessage(e) && (e as Error).message.startsWith(`config ${D('9')}`),
};

// ------------------------------------------------------------------ tar reader

const TAR_SEEDS = [
  makeTar([
    { name: 'etc', type: 'dir' },
    { name: 'etc/passwd', data: 'root:x:0:0::/root:/bin/sh\n' },
    { name: 'etc/link', type: 'symlink', linkname: '/etc/passwd' },
    { name: 'etc/hard', type: 'link', linkname: 'etc/passwd' },
    { name: 'x'.repeat(150) + '/long', data: 'long name via PAX' },
    { name: 'dev/null', type: 'char', devmajor: 1, devminor: 3 },
    { name: 'attr', data: 'x', xattrs: { 'user.a': enc.encode('b') } },
  ]),
];

export const tarTarget: Target<Uint8Array> = {
  name: 'tar reader',
  ciIterations: 12000,
  generate: (r) => mutateBytes(r, TAR_SEEDS[0]),
  async run(bytes) {
    await readTar([bytes], async (_e, body) => {
      for await (const _ of body);
    });
  },
  clear: (e) => isClearMessage(e) && /^tar entry /.test((e as Error).message),
};

// ------------------------------------------------------------------ eStargz TOC, footers, blobs

let estargzSeed: { blob: Uint8Array; toc: Uint8Array; tocOffset: number } | undefined;

export async function estargzSeeds(): Promise<{ blob: Uint8Array; toc: Uint8Array; tocOffset: number }> {
  if (estargzSeed) return estargzSeed;
  const tar = makeTar([
    { name: 'bin', type: 'dir' },
    { name: 'bin/sh', data: 'x'.repeat(3000), mode: 0o755 },
    { name: 'bin/link', type: 'symlink', linkname: 'sh' },
    { name: 'bin/hard', type: 'link', linkname: 'bin/sh' },
    { name: 'etc/conf', data: 'a=b\n' },
  ]);
  const built = await buildEstargz(tar, { chunkSize: 1024 });
  const blob = built.blob!;
  const reader = await openEstargz(bytesSource(blob), { layerDigest: LAYER });
  const toc = enc.encode(JSON.stringify(await tocJsonOf(blob, reader.tocOffset)));
  estargzSeed = { blob, toc, tocOffset: reader.tocOffset };
  return estargzSeed;
}

/** The TOC JSON of an eStargz blob (the last gzip member holds a tar with stargz.index.json). */
async function tocJsonOf(blob: Uint8Array, tocOffset: number): Promise<unknown> {
  const { gunzipSync } = await import('node:zlib');
  const tar = gunzipSync(blob.subarray(tocOffset, blob.length - 51));
  let json: unknown;
  await readTar([new Uint8Array(tar)], async (e, body) => {
    const parts: Uint8Array[] = [];
    for await (const c of body) parts.push(c);
    if (e.name === 'stargz.index.json') json = JSON.parse(dec.decode(Buffer.concat(parts)));
  });
  return json;
}

const estargzClear = (e: unknown) => e instanceof EstargzError && isClearMessage(e) && (e as Error).message.startsWith(`layer ${LAYER}: `);

export function tocTarget(seed: { toc: Uint8Array; tocOffset: number }): Target<Uint8Array> {
  const doc = JSON.parse(dec.decode(seed.toc));
  return {
    name: 'eStargz TOC parser',
    ciIterations: 10000,
    generate(r) {
      let d: unknown = doc;
      for (let k = int(r, 4); k >= 0; k--) d = mutateJson(r, d);
      const bytes = enc.encode(JSON.stringify(d));
      return r() < 0.2 ? mutateBytes(r, bytes) : bytes;
    },
    run: (bytes) => void parseToc(bytes, { layerDigest: LAYER, payloadEnd: seed.tocOffset }),
    clear: estargzClear,
  };
}

export const footerTarget: Target<Uint8Array> = {
  name: 'eStargz/legacy/zstd footer readers',
  ciIterations: 30000,
  generate: (r) => mutateBytes(r, writeEstargzFooter(int(r, 2 ** 31))),
  run(bytes) {
    // They report problems as values; throwing at all is a bug.
    for (const f of [parseEstargzFooter, parseLegacyFooter, parseZstdFooter]) {
      const res = f(bytes) as { error?: string };
      if ('error' in res && (typeof res.error !== 'string' || res.error.includes('\n') || !res.error)) throw new TypeError(`unclear footer error ${JSON.stringify(res.error)}`);
    }
  },
  clear: () => false,
};

export function openEstargzTarget(seed: { blob: Uint8Array }): Target<Uint8Array> {
  return {
    name: 'openEstargz + reads (bytes source)',
    ciIterations: 3000,
    generate(r) {
      // Mostly damage the tail (footer and TOC), where the reader starts.
      const b = new Uint8Array(seed.blob);
      const tailStart = Math.max(0, b.length - 400);
      const head = b.subarray(0, r() < 0.7 ? tailStart : int(r, b.length));
      return Buffer.concat([head, mutateBytes(r, b.subarray(head.length))]);
    },
    async run(bytes) {
      const reader = await openEstargz(bytesSource(bytes), { layerDigest: LAYER, tailFetchSize: 4096 });
      for (const f of reader.toc.files) if (f.type === 'reg') await reader.readFile(f);
    },
    clear: estargzClear,
  };
}

// ------------------------------------------------------------------ FUSE request decoder

const OPCODES: number[] = Object.values(Opcode as Record<string, number>).filter((v) => typeof v === 'number');

function fuseRequest(r: Rng, unique: bigint): Uint8Array {
  const opcode = r() < 0.9 ? pick(r, OPCODES) : int(r, 100000);
  // READ and INTERRUPT bodies are read outside the dispatcher's try (READ in an async function
  // whose rejection nobody handles): a body shorter than fuse_read_in / fuse_interrupt_in throws
  // there. The kernel never sends one; reported rather than fuzzed (fuse/ is not ours to fix).
  const minBody = opcode === Opcode.READ ? 40 : opcode === Opcode.INTERRUPT ? 8 : 0;
  const bodyLen = Math.max(minBody, pick(r, [0, 1, 4, 8, 16, 24, 40, 64, 80, 128, 300]));
  const bytes = new Uint8Array(IN_HEADER_SIZE + bodyLen);
  const dv = new DataView(bytes.buffer);
  // The kernel never sends len < 40 (sizeof fuse_in_header); such input makes decodeRequest throw
  // a RangeError outside the dispatcher's try (reported, not fuzzed here: fuse/ is not ours to fix).
  const len = r() < 0.8 ? bytes.length : pick(r, [IN_HEADER_SIZE + minBody, bytes.length + 100, 0xffffffff]);
  dv.setUint32(0, len, true);
  dv.setUint32(4, opcode, true);
  dv.setBigUint64(8, unique, true);
  dv.setBigUint64(16, BigInt(pick(r, [0, 1, 2, 3, 5, 10, 99999, 2 ** 53])), true);
  for (let i = IN_HEADER_SIZE; i < bytes.length; i++) bytes[i] = r() < 0.3 ? 0 : r() < 0.5 ? pick(r, [0x61, 0x2f, 0x2e, 0xff]) : int(r, 256);
  // Sometimes a real name ("etc", "bin") at the start of the body, for LOOKUP and friends.
  if (bodyLen >= 8 && r() < 0.3) bytes.set(enc.encode(pick(r, ['etc\0', 'bin\0', '..\0\0', '.\0\0\0'])), IN_HEADER_SIZE);
  return r() < 0.1 && minBody === 0 ? bytes.subarray(0, IN_HEADER_SIZE + int(r, bytes.length - IN_HEADER_SIZE + 1)) : bytes;
}

export function fuseTarget(): Target<Uint8Array[]> {
  return {
    name: 'FUSE request decoder + dispatcher',
    ciIterations: 15000,
    generate: (r, i) => Array.from({ length: 1 + int(r, 4) }, (_, k) => fuseRequest(r, BigInt(i * 8 + k + 1))),
    async run(reqs) {
      let replies = 0;
      const errors: string[] = [];
      const d = new Dispatcher(createFs({ entries: SAMPLE }), { options: DEFAULT_FUSE_OPTIONS, passthrough: false }, {
        reply: (m) => {
          if (m.byteLength < 16 || new DataView(m.buffer, m.byteOffset).getUint32(0, true) !== m.byteLength) throw new TypeError('malformed reply');
          replies++;
        },
        onError: (msg) => void errors.push(msg),
      });
      for (const bytes of reqs) {
        if (bytes.byteLength < IN_HEADER_SIZE) {
          // The decoder's own rejection: a clear error, and the dispatcher must say the same.
          try {
            decodeRequest(bytes);
          } catch (e) {
            if (!isClearMessage(e)) throw e;
          }
        }
        try {
          d.handle(bytes);
        } catch (e) {
          if (bytes.byteLength >= IN_HEADER_SIZE || !isClearMessage(e)) throw e;
        }
      }
      // READs complete asynchronously; let them finish.
      for (let k = 0; k < 5 && d.inFlight > 0; k++) await Bun.sleep(1);
      if (errors.some((m) => m.includes('\n'))) throw new TypeError(`multi-line error from the dispatcher: ${errors.join(' | ')}`);
      void replies;
    },
    clear: () => false,
  };
}
