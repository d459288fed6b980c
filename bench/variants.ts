// How each workload's image is stored in the registry, per variant (stargz-snapshotter's chart):
// legacy (gzip, overlay snapshotter, full pull), estargz-noopt (eStargz, lazy), estargz (eStargz
// with the workload's recorded files first, lazy), zstd (full pull) and zstdchunked (lazy).
// Pushed images are tagged by their inputs, so a kept registry storage skips the work next time.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { RegistryClient } from '../core/registry/client.ts';
import { parseReference } from '../core/registry/reference.ts';
import { copyImage } from '../core/image/copy.ts';
import { convertImage } from '../core/image/convert.ts';
import { dockerDestination, ociSource } from '../core/image/transports.ts';
import { buildOnce } from './images/rootfs.ts';
import type { WorkloadRecord } from './limit.ts';

export interface VariantSpec {
  name: string;
  /** Worker snapshotter the build runs with. */
  snapshotter: 'overlay' | 'stargz';
  /** Uses the workload's record (so its tag depends on it). */
  optimized: boolean;
  describe: string;
}

export const VARIANTS: VariantSpec[] = [
  { name: 'legacy', snapshotter: 'overlay', optimized: false, describe: 'gzip layers, full pull, overlay snapshotter' },
  { name: 'estargz-noopt', snapshotter: 'stargz', optimized: false, describe: 'eStargz layers, lazy pull' },
  { name: 'estargz', snapshotter: 'stargz', optimized: true, describe: "eStargz with the workload's files first (prefetched), lazy pull" },
  { name: 'zstd', snapshotter: 'overlay', optimized: false, describe: 'zstd layers, full pull' },
  { name: 'zstdchunked', snapshotter: 'stargz', optimized: true, describe: "zstd:chunked with the workload's files first, lazy pull" },
];
export const DEFAULT_VARIANTS = ['legacy', 'estargz-noopt', 'estargz'];

export function findVariant(name: string): VariantSpec {
  const v = VARIANTS.find((x) => x.name === name);
  if (!v) throw new Error(`unknown variant ${JSON.stringify(name)} (known: ${VARIANTS.map((x) => x.name).join(', ')})`);
  return v;
}

/** The same image with every gzip layer recompressed as plain zstd (diff_ids unchanged). */
async function zstdLayout(cacheDir: string, layout: string): Promise<string> {
  return buildOnce(join(cacheDir, 'variants', `zstd-${basename(layout)}`), async (tmp) => {
    mkdirSync(join(tmp, 'blobs/sha256'), { recursive: true });
    const blob = (d: string) => readFileSync(join(layout, 'blobs/sha256', d.slice(7)));
    const put = (bytes: Uint8Array, mediaType: string) => {
      const hex = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(tmp, 'blobs/sha256', hex), bytes);
      return { mediaType, digest: `sha256:${hex}`, size: bytes.length };
    };
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
    const manifest = JSON.parse(blob(index.manifests[0].digest).toString('utf8'));
    const layers = manifest.layers.map((l: { digest: string }) => put(Bun.zstdCompressSync(gunzipSync(blob(l.digest)), { level: 3 }), 'application/vnd.oci.image.layer.v1.tar+zstd'));
    const config = put(blob(manifest.config.digest), manifest.config.mediaType);
    const m = put(Buffer.from(JSON.stringify({ ...manifest, config, layers })), manifest.mediaType);
    writeFileSync(join(tmp, 'index.json'), JSON.stringify({ ...index, manifests: [{ ...m, annotations: { 'org.opencontainers.image.ref.name': 'latest' } }] }));
    writeFileSync(join(tmp, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  });
}

export interface PreparedVariant {
  ref: string;
  /** Compressed bytes of all layers as stored. */
  layerBytes: number;
}

/**
 * Makes sure the variant of a workload image is in the registry at `registryHost` and returns
 * its reference. Conversion runs in-process through core/image/convert.ts.
 */
export async function prepareVariant(opts: {
  variant: VariantSpec;
  workload: string;
  layout: string;
  record: WorkloadRecord;
  registryHost: string;
  cacheDir: string;
  client: RegistryClient;
  tmpDir: string;
}): Promise<PreparedVariant> {
  const { variant, client } = opts;
  const key = createHash('sha256')
    .update(JSON.stringify([basename(opts.layout), variant.name, variant.optimized ? opts.record.files : []]))
    .digest('hex')
    .slice(0, 16);
  const ref = parseReference(`${opts.registryHost}/bench/${opts.workload}:${variant.name}-${key}`);
  const refText = `${opts.registryHost}/bench/${opts.workload}:${variant.name}-${key}`;
  const dst = dockerDestination(client, ref);
  if (!(await client.headManifest(ref))) {
    if (variant.name === 'legacy') await copyImage(ociSource(opts.layout, 'latest'), dst);
    else if (variant.name === 'zstd') await copyImage(ociSource(await zstdLayout(opts.cacheDir, opts.layout), 'latest'), dst);
    else {
      await convertImage(ociSource(opts.layout, 'latest'), dst, {
        format: variant.name === 'zstdchunked' ? 'zstd-chunked' : 'gzip',
        oci: true,
        prioritizedFiles: variant.optimized ? opts.record.files : undefined,
        tmpDir: opts.tmpDir,
      });
    }
  }
  const m = await client.getManifest(ref);
  const manifest = JSON.parse(new TextDecoder().decode(m.bytes)) as { layers: { size: number }[] };
  return { ref: refText, layerBytes: manifest.layers.reduce((a, l) => a + l.size, 0) };
}
