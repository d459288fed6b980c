// Two clients build concurrently on one lazily pulled eStargz base through the daemon's stargz
// snapshotter: the lazy mount is shared, each chunk is fetched from the registry once, and the
// file nobody reads is never fetched.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { layerTar, noise, pushEstargz } from '../plugins/snapshotter-stargz/helpers.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { lazyUsage } from '../../core/gc/usage.ts';

const repo = join(import.meta.dir, '..', '..');
let reg: TestRegistry;
let work: string;
let daemon: ReturnType<typeof Bun.spawn>;
let log = '';
let sock: string;
let blobSize = 0;
let blobDigest = '';
const ranges: string[] = [];
let proxyServer: ReturnType<typeof Bun.serve>;
let proxyHost = '';

/** Records every blob GET with its Range, so a chunk fetched twice shows up. */
function startRangeProxy(upstream: string): void {
  proxyServer = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      if (req.method === 'GET' && url.pathname.includes('/blobs/')) ranges.push(`${url.pathname} ${req.headers.get('range') ?? 'whole'}`);
      const headers = new Headers(req.headers);
      headers.set('host', upstream);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: 'manual', decompress: false } as RequestInit);
      const out = new Headers(res.headers);
      const loc = out.get('location');
      if (loc) out.set('location', loc.replace(`//${upstream}`, `//${proxyHost}`));
      return new Response(req.method === 'HEAD' ? null : res.body, { status: res.status, headers: out });
    },
  });
  proxyHost = `127.0.0.1:${proxyServer.port}`;
}

beforeAll(async () => {
  reg = await startRegistry();
  startRangeProxy(reg.host);
  work = fs.mkdtempSync(join(tmpdir(), 'eb-lazy-'));
  const tar = layerTar([
    { name: 'data', type: 'dir' },
    { name: 'data/read-me', data: noise(3_000_000, 1) },
    { name: 'data/never-read', data: noise(3_000_000, 2) },
  ]);
  const pushed = await pushEstargz(reg.host, 'lazy/base', tar, { chunkSize: 256 * 1024 } as never);
  blobSize = pushed.blob.length;
  blobDigest = pushed.layer.descriptor.digest;
  const diffID = 'sha256:' + createHash('sha256').update(gunzipSync(pushed.blob)).digest('hex');
  const client = new RegistryClient();
  const ref = parseReference(`${reg.host}/lazy/base:v1`);
  const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [diffID] } }));
  const configDigest = 'sha256:' + createHash('sha256').update(config).digest('hex');
  await client.uploadBlob(ref, configDigest, config.length, config);
  const manifest = new TextEncoder().encode(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [pushed.layer.descriptor],
  }));
  await client.putManifest(ref, manifest, 'application/vnd.oci.image.manifest.v1+json');

  const cfg = join(work, 'edgebuild.toml');
  fs.writeFileSync(cfg, '[worker.oci]\nsnapshotter = "stargz"\n[plugins."snapshotter.stargz"]\nno_background_fetch = true\nnoprefetch = true\n');
  sock = join(work, 'd.sock');
  daemon = Bun.spawn([process.execPath, join(repo, 'test/core/daemon/daemon-main.ts'), '--root', join(work, 'root'), '--config', cfg, '--addr', `unix://${sock}`, 'daemon'], { stdout: 'pipe', stderr: 'pipe' });
  void (async () => {
    for await (const c of daemon.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
  })();
  const deadline = Date.now() + 20_000;
  while (!fs.existsSync(sock)) {
    if (daemon.exitCode !== null || Date.now() > deadline) throw new Error(`daemon did not start: ${log}`);
    await Bun.sleep(50);
  }
}, 120_000);

afterAll(async () => {
  if (daemon?.exitCode === null) {
    daemon.kill('SIGTERM');
    await daemon.exited;
  }
  proxyServer?.stop(true);
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('daemon with a lazy base [slow]', () => {
  test('two concurrent builds share the lazy mount: every chunk fetched once, unread file never', async () => {
    const build = (name: string) => {
      const ctx = join(work, name);
      fs.mkdirSync(ctx);
      fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM scratch\nCOPY --from=${proxyHost}/lazy/base:v1 /data/read-me /${name}\n`);
      return edgebuild(['--addr', `unix://${sock}`, 'build', '--progress', 'plain', '-o', `type=local,dest=${join(work, `out-${name}`)}`, ctx]);
    };
    const [a, b] = await Promise.all([build('a'), build('b')]);
    if (a.code !== 0 || b.code !== 0) throw new Error(`${a.err}\n${b.err}\n${log}`);
    expect(Buffer.from(fs.readFileSync(join(work, 'out-a', 'a'))).equals(Buffer.from(noise(3_000_000, 1)))).toBe(true);
    expect(Buffer.from(fs.readFileSync(join(work, 'out-b', 'b'))).equals(Buffer.from(noise(3_000_000, 1)))).toBe(true);
    const layerGets = ranges.filter((r) => r.includes(blobDigest));
    expect(layerGets.length).toBeGreaterThan(0);
    expect(layerGets.some((r) => r.endsWith(' whole'))).toBe(false); // lazily, not pulled
    expect(new Set(layerGets).size).toBe(layerGets.length); // no range asked twice
    const fetched = layerGets.reduce((n, r) => {
      const m = /bytes=(\d+)-(\d+)/.exec(r);
      return n + (m ? Number(m[2]) - Number(m[1]) + 1 : 0);
    }, 0);
    expect(fetched).toBeLessThan(blobSize * 0.75); // never-read's chunks stayed in the registry
  }, 300_000);

  test('SIGTERM leaves no FUSE mounts; the chunk cache stays and is counted as lazy data', async () => {
    daemon.kill('SIGTERM');
    await daemon.exited;
    expect(await mountsUnder(join(work, 'root'))).toEqual([]);
    const rows = lazyUsage(join(work, 'root'));
    expect(rows.reduce((n, r) => n + r.size, 0)).toBeGreaterThan(0);
  }, 60_000);
});
