// Small test images for registry tests, built in memory: a few gzip layer tars, an OCI config
// and manifest (and an index for several platforms), written to an OCI layout dir that skopeo or
// our client can push. (Base images built from a rootfs live in images.ts.)
import { pack } from 'tar-stream';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { OciLayout } from '../../core/image/oci-layout.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { digestOf } from '../../core/content/digest.ts';
import type { Descriptor } from '../../core/image/schemas.ts';
import { tempDir } from './temp-dir.ts';

export async function tarOf(files: Record<string, string | Uint8Array>): Promise<Uint8Array> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => (p.on('end', resolve), p.on('error', reject)));
  for (const [name, content] of Object.entries(files)) {
    const body = Buffer.from(content);
    p.entry({ name, size: body.length, mode: 0o644, mtime: new Date(0) }, body);
  }
  p.finalize();
  await done;
  return new Uint8Array(Buffer.concat(chunks));
}

export interface BuiltImage {
  dir: string;
  tag: string;
  /** Top-level descriptor in index.json (manifest, or index for multi-platform). */
  top: Descriptor;
  manifests: { platform: string; desc: Descriptor; bytes: Uint8Array; config: Descriptor; layers: Descriptor[] }[];
  topBytes: Uint8Array;
}

export interface ImageSpec {
  tag?: string;
  /** Layers as file maps; each becomes one gzip layer. */
  layers?: Record<string, string | Uint8Array>[];
  /** Several platforms → an OCI index over one manifest per platform. */
  platforms?: string[];
  layerAnnotations?: Record<string, string>[];
  layerMediaType?: string;
  dir?: string;
  config?: Record<string, unknown>;
}

async function writeBytes(layout: OciLayout, mediaType: string, bytes: Uint8Array, extra: Partial<Descriptor> = {}): Promise<Descriptor> {
  const desc = { mediaType, digest: digestOf(bytes), size: bytes.length, ...extra };
  await layout.writeBlob(desc, [bytes]);
  return desc;
}

export async function buildImage(spec: ImageSpec = {}): Promise<BuiltImage> {
  const dir = spec.dir ?? tempDir('eb-img-');
  const layout = new OciLayout(dir);
  layout.init();
  const tag = spec.tag ?? 'v1';
  const platforms = spec.platforms ?? ['linux/amd64'];
  const manifests: BuiltImage['manifests'] = [];
  for (const plat of platforms) {
    const [os, architecture, variant] = plat.split('/');
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    const specs = spec.layers ?? [{ 'etc/hello.txt': `hello from ${plat}\n` }, { 'app/data.bin': `data ${plat} ${'x'.repeat(1000)}` }];
    for (const [i, files] of specs.entries()) {
      const tar = await tarOf(files);
      diffIds.push(digestOf(tar));
      const gz = new Uint8Array(gzipSync(tar));
      const annotations = spec.layerAnnotations?.[i];
      layers.push(await writeBytes(layout, spec.layerMediaType ?? MediaType.ociLayerGzip, gz, annotations ? { annotations } : {}));
    }
    const config = {
      created: '2024-01-02T03:04:05Z',
      architecture,
      os,
      ...(variant ? { variant } : {}),
      config: { Env: ['PATH=/usr/bin:/bin', 'GREETING=hi'], Cmd: ['/bin/sh', '-c', 'echo hi'], WorkingDir: '/app', User: '1000', ...spec.config },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map(() => ({ created: '2024-01-02T03:04:05Z', created_by: 'test' })),
    };
    const configDesc = await writeBytes(layout, MediaType.ociConfig, new TextEncoder().encode(JSON.stringify(config)));
    const manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDesc, layers };
    const bytes = new TextEncoder().encode(JSON.stringify(manifest, null, 2));
    const desc = await writeBytes(layout, MediaType.ociManifest, bytes, { platform: { os, architecture, ...(variant ? { variant } : {}) } });
    manifests.push({ platform: plat, desc, bytes, config: configDesc, layers });
  }
  let top: Descriptor;
  let topBytes: Uint8Array;
  if (platforms.length > 1) {
    const index = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: manifests.map((m) => m.desc) };
    topBytes = new TextEncoder().encode(JSON.stringify(index, null, 2));
    top = await writeBytes(layout, MediaType.ociIndex, topBytes);
  } else {
    const { platform: _p, ...d } = manifests[0].desc;
    top = d;
    topBytes = manifests[0].bytes;
  }
  await layout.setRef(top, tag);
  return { dir, tag, top, manifests, topBytes };
}

/** Runs skopeo without signature policy; loopback registries speak plain HTTP. */
export function skopeo(...args: string[]): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(['skopeo', '--insecure-policy', ...args], { stderr: 'pipe', stdout: 'pipe', env: { ...process.env, REGISTRY_AUTH_FILE: '/nonexistent-eb-auth.json' } });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

export function skopeoOk(...args: string[]): string {
  const r = skopeo(...args);
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr.trim()}`);
  return r.stdout;
}
