// The image provider hands a remote snapshotter an image's layers as soon as the manifest is known
// (warmRemote with unlessPresent), so their TOCs are fetched while the config still is.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../../core/content/store.ts';
import { RegistryClient } from '../../../core/registry/client.ts';
import { parseReference } from '../../../core/registry/reference.ts';
import type { RemoteLayer } from '../../../core/snapshot/types.ts';
import type { LayerSnapshotter } from '../../../core/layer/types.ts';
import { RegistryImageProvider } from '../../../core/worker/images.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';

let reg: TestRegistry;
const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const enc = (s: string) => new TextEncoder().encode(s);
let configDigest = '';
let layers: { digest: string; size: number }[] = [];

beforeAll(async () => {
  reg = await startRegistry();
  const client = new RegistryClient();
  const repo = { registry: reg.host, repository: 'warm/img' };
  const blobs = [enc('layer one'), enc('layer two')];
  layers = blobs.map((b) => ({ digest: sha(b), size: b.length }));
  for (const b of blobs) await client.uploadBlob(repo, sha(b), b.length, b);
  const config = enc(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) }, config: {} }));
  configDigest = sha(config);
  await client.uploadBlob(repo, configDigest, config.length, config);
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...l, annotations: { 'containerd.io/snapshot/stargz/toc.digest': `sha256:${'0'.repeat(64)}` } })),
  };
  await client.putManifest(parseReference(`${reg.host}/warm/img:1`), enc(JSON.stringify(manifest)), manifest.mediaType);
});

afterAll(async () => {
  await reg?.stop();
});

/** A loopback proxy in front of the registry that holds GETs of `digest` until released. */
function holdBlob(upstream: string, digest: string) {
  let release!: () => void;
  const open = new Promise<void>((r) => (release = r));
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    async fetch(req) {
      const url = new URL(req.url);
      if (url.pathname.endsWith(digest)) await open;
      const headers = new Headers(req.headers);
      headers.set('host', upstream);
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, { method: req.method, headers, redirect: 'manual', decompress: false } as RequestInit);
      return new Response(req.method === 'HEAD' ? null : res.body, { status: res.status, headers: res.headers });
    },
  });
  return { host: `127.0.0.1:${server.port}`, release, stop: () => server.stop(true) };
}

test('[slow] resolve() hands the layers to warmRemote (unlessPresent) before the image config is in', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-images-'));
  const proxy = holdBlob(reg.host, configDigest);
  const calls: { layers: RemoteLayer[]; opts?: { unlessPresent?: boolean } }[] = [];
  const snapshotter = {
    prepareRemote: async () => ({ lazy: false, reason: 'test' }),
    remoteStatus: () => [],
    warmRemote: (l: RemoteLayer[], opts?: { unlessPresent?: boolean }) => calls.push({ layers: l, opts }),
  } as unknown as LayerSnapshotter;
  try {
    const provider = new RegistryImageProvider(new RegistryClient(), new ContentStore(join(dir, 'content')), snapshotter);
    const resolving = provider.resolve(`${proxy.host}/warm/img:1`, { os: 'linux', architecture: 'amd64' });
    for (let i = 0; i < 200 && calls.length === 0; i++) await Bun.sleep(10);
    // The config is still held: the layers went out with the manifest alone.
    expect(calls).toHaveLength(1);
    expect(calls[0].opts).toEqual({ unlessPresent: true });
    expect(calls[0].layers.map((l) => [l.registry, l.repository, l.imageRef, l.descriptor.digest])).toEqual(
      layers.map((l) => [proxy.host, 'warm/img', `${proxy.host}/warm/img:1`, l.digest]),
    );
    proxy.release();
    const img = await resolving;
    expect(img.layers.map((l) => l.digest)).toEqual(layers.map((l) => l.digest));
  } finally {
    proxy.release();
    proxy.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
