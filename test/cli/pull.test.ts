// pull / inspect / copy against a real distribution registry (Debian's docker-registry).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../harness/temp-dir.ts';
import { readFileSync, writeFileSync, truncateSync, existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startRegistry, registryBlobPath, type TestRegistry } from '../harness/registry.ts';
import { buildImage, skopeoOk, type BuiltImage } from '../harness/registry-images.ts';
import { startCountingProxy } from '../harness/counting-proxy.ts';
import { testContext } from '../harness/command-context.ts';
import { storedBlobs, storedImages } from '../harness/store-contents.ts';
import { pullCommand } from '../../cli/commands/pull.ts';
import { inspectCommand } from '../../cli/commands/inspect.ts';
import { copyCommand } from '../../cli/commands/copy.ts';
import { UserError } from '../../cli/command.ts';
import { ContentStore } from '../../core/content/store.ts';
import { ImageStore } from '../../core/content/images.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { digestOf } from '../../core/content/digest.ts';
import { MediaType } from '../../core/image/media-types.ts';
import { pullImage } from '../../core/image/pull.ts';

afterAll(removeTempDirs);

let reg: TestRegistry;
let multi: BuiltImage;

beforeAll(async () => {
  reg = await startRegistry();
  multi = await buildImage({ platforms: ['linux/amd64', 'linux/arm64/v8'] });
  skopeoOk('copy', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:${multi.tag}`, `docker://${reg.host}/test/multi:1`);
});
afterAll(async () => {
  await reg?.stop();
});

/** Runs a command expecting failure; returns its one-line message. */
async function failure(run: Promise<number>): Promise<string> {
  const e = await run.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).not.toContain('\n');
  return e.message;
}

/** Builds a unique image, pushes it with skopeo, returns it and its reference. */
async function pushUnique(repo: string, extra: Parameters<typeof buildImage>[0] = {}): Promise<{ img: BuiltImage; ref: string }> {
  const salt = Math.random().toString(36).slice(2);
  const img = await buildImage({ layers: [{ 'a.txt': `a ${salt}` }, { 'b.bin': `b ${salt} ${'y'.repeat(3000)}` }], ...extra });
  const ref = `${reg.host}/${repo}:1`;
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${ref}`);
  return { img, ref };
}

describe('pull', () => {
  test('[slow] an image skopeo pushed is pulled with identical digests', async () => {
    for (const [i, plat] of ['linux/amd64', 'linux/arm64/v8'].entries()) {
      const ctx = testContext();
      expect(await pullCommand.run([`${reg.host}/test/multi:1`, '--platform', plat], ctx)).toBe(0);
      const m = multi.manifests[i];
      expect(ctx.stdout).toEqual([m.desc.digest]);
      const store = new ContentStore(ctx.root);
      for (const d of [m.config, ...m.layers, m.desc, multi.top]) {
        expect(Buffer.from(await store.read(d.digest)).equals(readFileSync(join(multi.dir, 'blobs/sha256', d.digest.slice(7))))).toBe(true);
      }
      const rec = await new ImageStore(ctx.root).get(`${reg.host}/test/multi:1`);
      expect(rec).toMatchObject({ manifest: { digest: m.desc.digest, mediaType: MediaType.ociManifest }, index: { digest: multi.top.digest }, platform: { architecture: plat.split('/')[1] } });
      expect(ctx.stderr.some((l) => l.startsWith(`pulled ${reg.host}/test/multi:1: 5 blobs`))).toBe(true);
    }
  });

  test('[slow] a second pull finds every blob present; TTY progress draws bars', async () => {
    const ctx = testContext({ tty: true });
    await pullCommand.run([`${reg.host}/test/multi:1`, '--platform', 'linux/amd64'], ctx);
    expect(ctx.stderr.some((l) => l.includes('[') && l.includes('/s'))).toBe(true);
    const again = testContext({ root: ctx.root });
    await pullCommand.run([`${reg.host}/test/multi:1`, '--platform', 'linux/amd64'], again);
    expect(again.stderr.filter((l) => l.includes('already present')).length).toBe(3);
  });

  test('[slow] pull by digest pins the index', async () => {
    const ctx = testContext();
    const ref = `${reg.host}/test/multi@${multi.top.digest}`;
    expect(await pullCommand.run([ref, '--platform', 'linux/arm64/v8'], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([multi.manifests[1].desc.digest]);
    expect((await new ImageStore(ctx.root).list()).map((r) => r.ref)).toEqual([ref]);
    const wrong = `${reg.host}/test/multi@sha256:${'0'.repeat(64)}`;
    const msg = await failure(pullCommand.run([wrong], testContext()));
    expect(msg).toMatch(new RegExp(`^pull ${wrong}: 404 not found: .* at ${reg.host}$`));
  });

  test('[slow] a platform the index lacks is a one-line error listing what exists', async () => {
    const ctx = testContext();
    const msg = await failure(pullCommand.run([`${reg.host}/test/multi:1`, '--platform', 'linux/s390x'], ctx));
    expect(msg).toBe(`pull ${reg.host}/test/multi:1: no manifest for platform linux/s390x (available: linux/amd64, linux/arm64/v8)`);
    expect(storedBlobs(ctx.root)).toEqual([]);
  });
});

describe('bad input stores nothing', () => {
  test('[slow] refused connection names the host', async () => {
    const ctx = testContext();
    const msg = await failure(pullCommand.run(['127.0.0.1:1/x:1'], ctx));
    expect(msg).toBe('pull 127.0.0.1:1/x:1: cannot reach 127.0.0.1:1: connection refused');
    expect(storedBlobs(ctx.root)).toEqual([]);
  });

  test('[slow] unknown repository', async () => {
    const ctx = testContext();
    const msg = await failure(pullCommand.run([`${reg.host}/no/such:1`], ctx));
    expect(msg).toMatch(new RegExp(`^pull ${reg.host}/no/such:1: 404 not found: .* at ${reg.host}$`));
  });

  test('[slow] manifest whose bytes do not match its digest', async () => {
    const { img, ref } = await pushUnique('bad/manifest');
    const path = registryBlobPath(reg, img.top.digest);
    const altered = Buffer.concat([readFileSync(path), Buffer.from(' ')]);
    writeFileSync(path, altered);
    const ctx = testContext();
    const msg = await failure(pullCommand.run([ref], ctx));
    expect(msg).toBe(`pull ${ref}: registry says digest ${img.top.digest} but content is ${digestOf(altered)} at ${reg.host}`);
    expect(storedBlobs(ctx.root)).toEqual([]);
    expect(storedImages(ctx.root)).toEqual([]);
  });

  test('[slow] a blob altered in storage', async () => {
    const { img, ref } = await pushUnique('bad/blob');
    const layer = img.manifests[0].layers[1];
    const path = registryBlobPath(reg, layer.digest);
    const data = readFileSync(path);
    data[data.length - 5] ^= 0xff;
    writeFileSync(path, data);
    const ctx = testContext();
    const msg = await failure(pullCommand.run([ref], ctx));
    expect(msg).toBe(`pull ${ref}: blob ${layer.digest}: content has digest ${digestOf(data)} (corrupt or altered)`);
    expect(storedBlobs(ctx.root)).toEqual([]);
    expect(storedImages(ctx.root)).toEqual([]);
  });

  test('[slow] a truncated blob', async () => {
    const { img, ref } = await pushUnique('bad/truncated');
    const layer = img.manifests[0].layers[1];
    truncateSync(registryBlobPath(reg, layer.digest), 100);
    const ctx = testContext();
    const msg = await failure(pullCommand.run([ref], ctx));
    expect(msg).toBe(`pull ${ref}: blob ${layer.digest}: got 100 bytes, expected ${layer.size} (truncated)`);
    expect(storedBlobs(ctx.root)).toEqual([]);
  });

  test('[slow] an unsupported layer media type', async () => {
    const { ref } = await pushUnique('bad/mediatype', { layerMediaType: 'application/vnd.example.unknown.layer' });
    const ctx = testContext();
    const msg = await failure(pullCommand.run([ref], ctx));
    expect(msg).toMatch(new RegExp(`^pull ${ref}: unsupported layer media type "application/vnd.example.unknown.layer" \\(layer sha256:[a-f0-9]{64}\\)$`));
    expect(storedBlobs(ctx.root)).toEqual([]);
  });
});

describe('ranges', () => {
  test('[slow] fetchBlobRange: single and multi-range match slices of the blob', async () => {
    const client = new RegistryClient();
    const layer = multi.manifests[0].layers[1];
    const whole = readFileSync(join(multi.dir, 'blobs/sha256', layer.digest.slice(7)));
    const repo = parseReference(`${reg.host}/test/multi`);
    const ranges = [{ offset: 0, length: 10 }, { offset: 30, length: 7 }, { offset: layer.size - 4, length: 4 }];
    const parts = await client.fetchBlobRange(repo, layer.digest, ranges);
    ranges.forEach((r, i) => expect(Buffer.from(parts[i]).equals(whole.subarray(r.offset, r.offset + r.length))).toBe(true));
    const [one] = await client.fetchBlobRange(repo, layer.digest, [{ offset: 5, length: 20 }]);
    expect(Buffer.from(one).equals(whole.subarray(5, 25))).toBe(true);
  });
});

describe('inspect', () => {
  test('[slow] text and JSON, with eStargz layers recognised', async () => {
    const toc = 'sha256:' + 'd'.repeat(64);
    const { img, ref } = await pushUnique('test/estargz', { layerAnnotations: [{ 'containerd.io/snapshot/stargz/toc.digest': toc, 'io.containers.estargz.uncompressed-size': '2048' }] });
    const ctx = testContext();
    expect(await inspectCommand.run([ref], ctx)).toBe(0);
    const text = ctx.stdout.join('\n');
    expect(text).toContain(`Digest:     ${img.top.digest}`);
    expect(text).toContain('Platform:   linux/amd64');
    expect(text).toContain('Cmd:        ["/bin/sh","-c","echo hi"]');
    expect(text).toContain('WorkingDir: /app');
    expect(text).toContain(`estargz: yes (toc ${toc})`);
    expect(text).toContain('estargz: no');
    const j = testContext();
    await inspectCommand.run([ref, '--json'], j);
    const info = JSON.parse(j.stdout.join('\n'));
    expect(info.layers.map((l: { estargz: unknown }) => l.estargz)).toEqual([{ tocDigest: toc, uncompressedSize: 2048 }, null]);
    expect(info.config).toMatchObject({ env: ['PATH=/usr/bin:/bin', 'GREETING=hi'], user: '1000', created: '2024-01-02T03:04:05Z' });
    const multiCtx = testContext();
    await inspectCommand.run([`${reg.host}/test/multi:1`, '--platform', 'linux/arm64', '--json'], multiCtx);
    expect(JSON.parse(multiCtx.stdout.join('\n'))).toMatchObject({ digest: multi.manifests[1].desc.digest, platform: 'linux/arm64/v8', index: { digest: multi.top.digest } });
  });
});

describe('copy', () => {
  test('[slow] oci → docker is byte-identical for skopeo; docker → oci output works with skopeo', async () => {
    const img = await buildImage({ layers: [{ 'x': 'copy test ' + Math.random() }] });
    const ctx = testContext();
    expect(await copyCommand.run([`oci:${img.dir}:${img.tag}`, `docker://${reg.host}/copied/app:2`], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([img.top.digest]);
    const raw = skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/copied/app:2`);
    expect(raw).toBe(new TextDecoder().decode(img.topBytes));
    const out = tempDir('eb-ocout-');
    const c2 = testContext();
    expect(await copyCommand.run([`docker://${reg.host}/copied/app:2`, `oci:${out}:mytag`], c2)).toBe(0);
    const index = JSON.parse(readFileSync(join(out, 'index.json'), 'utf8'));
    expect(index.manifests[0]).toMatchObject({ digest: img.top.digest, annotations: { 'org.opencontainers.image.ref.name': 'mytag' } });
    skopeoOk('copy', '--dest-tls-verify=false', `oci:${out}:mytag`, `docker://${reg.host}/copied/again:1`);
    expect(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/copied/again:1`)).toBe(raw);
  });

  test('[slow] --all copies the whole index docker → oci → oci', async () => {
    const out = tempDir('eb-ocall-');
    const ctx = testContext();
    expect(await copyCommand.run(['--all', `docker://${reg.host}/test/multi:1`, `oci:${out}:all`], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([multi.top.digest]);
    for (const m of multi.manifests) for (const d of [m.desc, m.config, ...m.layers]) expect(existsSync(join(out, 'blobs/sha256', d.digest.slice(7)))).toBe(true);
    const out2 = tempDir('eb-ocall2-');
    expect(await copyCommand.run(['--all', `oci:${out}:all`, `oci:${out2}`], testContext())).toBe(0);
    expect(readFileSync(join(out2, 'blobs/sha256', multi.top.digest.slice(7)))).toEqual(readFileSync(join(multi.dir, 'blobs/sha256', multi.top.digest.slice(7))));
    // Without --all: only the chosen platform's manifest, copied as is.
    const one = tempDir('eb-ocone-');
    const c3 = testContext();
    await copyCommand.run(['--platform', 'linux/arm64', `docker://${reg.host}/test/multi:1`, `oci:${one}:arm`], c3);
    expect(c3.stdout).toEqual([multi.manifests[1].desc.digest]);
  });

  test('[slow] docker → docker in one registry mounts blobs instead of uploading', async () => {
    const proxy = startCountingProxy(reg.host);
    try {
      const { img } = await pushUnique('mount/src');
      const ctx = testContext();
      expect(await copyCommand.run([`docker://${proxy.host}/mount/src:1`, `docker://${proxy.host}/mount/dst:1`], ctx)).toBe(0);
      expect(proxy.count('POST', 'mount=')).toBe(3);
      expect(proxy.count('PATCH')).toBe(0);
      expect(proxy.count('PUT', '/blobs/')).toBe(0);
      expect(proxy.count('PUT', '/manifests/')).toBe(1);
      expect(ctx.stderr.at(-1)).toBe(`copied docker://${proxy.host}/mount/src:1 to docker://${proxy.host}/mount/dst:1: 0 copied, 3 mounted, 0 already present`);
      expect(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/mount/dst:1`)).toBe(new TextDecoder().decode(img.topBytes));
      // A source repository without the blob: the registry answers 202 and we fall back.
      const client = new RegistryClient();
      expect(await client.mountBlob(parseReference(`${reg.host}/mount/other`), img.manifests[0].layers[0].digest, 'no/such-repo')).toBe(false);
      expect(await client.mountBlob(parseReference(`${reg.host}/mount/other`), img.manifests[0].layers[0].digest, 'mount/src')).toBe(true);
    } finally {
      proxy.stop();
    }
  });

  test('[slow] chunked uploads (PATCH) when a blob exceeds the chunk size', async () => {
    const proxy = startCountingProxy(reg.host);
    try {
      const data = new Uint8Array(2500).map((_, i) => (i * 7) & 0xff);
      const digest = digestOf(data);
      const client = new RegistryClient({ chunkSize: 1000 });
      const repo = parseReference(`${proxy.host}/chunked/blob`);
      await client.uploadBlob(repo, digest, data.length, new Blob([data]));
      expect(proxy.count('PATCH')).toBe(3);
      expect(await client.blobExists(repo, digest)).toBe(2500);
      expect(Buffer.from(await client.fetchBlob(repo, digest)).equals(Buffer.from(data))).toBe(true);
    } finally {
      proxy.stop();
    }
  });

  test('[slow] a corrupt oci: source is refused before upload and nothing is tagged', async () => {
    const img = await buildImage({ layers: [{ 'x': 'corrupt ' + Math.random() }] });
    const layer = img.manifests[0].layers[0];
    const p = join(img.dir, 'blobs/sha256', layer.digest.slice(7));
    const data = readFileSync(p);
    data[10] ^= 1;
    writeFileSync(p, data);
    const msg = await failure(copyCommand.run([`oci:${img.dir}:${img.tag}`, `docker://${reg.host}/corrupt/x:1`], testContext()));
    expect(msg).toBe(`copy oci:${img.dir}:${img.tag} to docker://${reg.host}/corrupt/x:1: blob ${layer.digest} in oci:${img.dir}:${img.tag}: content has digest ${digestOf(data)} (corrupt or altered)`);
    const out = tempDir('eb-occ-');
    await failure(copyCommand.run([`oci:${img.dir}:${img.tag}`, `oci:${out}:t`], testContext()));
    expect(existsSync(join(out, 'index.json'))).toBe(false);
    expect(await new RegistryClient().headManifest(parseReference(`${reg.host}/corrupt/x:1`))).toBeUndefined();
  });
});

describe('more transports', () => {
  test('[slow] docker → docker across registries streams blobs; --all oci → docker pushes the index', async () => {
    const other = await startRegistry();
    try {
      const ctx = testContext();
      expect(await copyCommand.run(['--all', `docker://${reg.host}/test/multi:1`, `docker://${other.host}/moved/multi:7`], ctx)).toBe(0);
      expect(ctx.stdout).toEqual([multi.top.digest]);
      expect(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${other.host}/moved/multi:7`)).toBe(new TextDecoder().decode(multi.topBytes));
      const arm = skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${other.host}/moved/multi@${multi.manifests[1].desc.digest}`);
      expect(arm).toBe(new TextDecoder().decode(multi.manifests[1].bytes));
      const c2 = testContext();
      expect(await copyCommand.run(['--all', `oci:${multi.dir}:${multi.tag}`, `docker://${other.host}/fromoci/multi:1`], c2)).toBe(0);
      const pulled = testContext();
      expect(await pullCommand.run([`${other.host}/fromoci/multi:1`, '--platform', 'linux/arm64'], pulled)).toBe(0);
      expect(pulled.stdout).toEqual([multi.manifests[1].desc.digest]);
    } finally {
      await other.stop();
    }
  });

  test('[slow] a Docker schema2 image (skopeo --format v2s2) is pulled and inspected', async () => {
    const img = await buildImage({ layers: [{ 'd': 'docker v2s2 ' + Math.random() }] });
    skopeoOk('copy', '--format', 'v2s2', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/docker/v2s2:1`);
    const j = testContext();
    await inspectCommand.run([`${reg.host}/docker/v2s2:1`, '--json'], j);
    const info = JSON.parse(j.stdout.join('\n'));
    expect(info.mediaType).toBe(MediaType.dockerManifest);
    expect(info.layers[0].mediaType).toBe(MediaType.dockerLayerGzip);
    const ctx = testContext();
    expect(await pullCommand.run([`${reg.host}/docker/v2s2:1`], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([info.digest]);
  });

  test('[slow] a pull aborted mid-download leaves nothing behind', async () => {
    const big = new Uint8Array(randomBytes(20_000_000));
    const { ref } = await pushUnique('abort/big', { layers: [{ small: 'x' }, { 'big.bin': big }] });
    const root = tempDir('eb-abort-');
    const abort = new AbortController();
    const err = await pullImage(ref, {
      client: new RegistryClient({ signal: abort.signal }),
      store: new ContentStore(root),
      images: new ImageStore(root),
      signal: abort.signal,
      onEvent: (e) => {
        if (e.type === 'blob' && e.state === 'downloading' && e.total > 1_000_000 && e.done > 0) abort.abort(new Error('interrupted'));
      },
    }).catch((e) => e);
    expect(err.message).toBe(`pull ${ref}: interrupted`);
    expect(storedBlobs(root)).toEqual([]);
    expect(storedImages(root)).toEqual([]);
    expect(readdirSync(join(root, 'content', 'ingest'))).toEqual([]);
  });
});

describe('mirrors', () => {
  test('[slow] mirror down → origin used', async () => {
    const ctx = testContext({ registry: { [reg.host]: { mirrors: ['127.0.0.1:1'] } } });
    expect(await pullCommand.run([`${reg.host}/test/multi:1`, '--platform', 'linux/amd64'], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([multi.manifests[0].desc.digest]);
  });

  test('[slow] mirror up → origin untouched', async () => {
    const mirror = await startRegistry();
    const origin = startCountingProxy(reg.host);
    try {
      skopeoOk('copy', '--all', '--dest-tls-verify=false', `oci:${multi.dir}:${multi.tag}`, `docker://${mirror.host}/test/multi:1`);
      const ctx = testContext({ registry: { [origin.host]: { mirrors: [`http://${mirror.host}`] } } });
      expect(await pullCommand.run([`${origin.host}/test/multi:1`, '--platform', 'linux/arm64'], ctx)).toBe(0);
      expect(ctx.stdout).toEqual([multi.manifests[1].desc.digest]);
      expect(origin.requests).toEqual([]);
    } finally {
      origin.stop();
      await mirror.stop();
    }
  });
});

describe('inspect errors', () => {
  test('[slow] unknown tag: one line naming the ref and host', async () => {
    const e = await inspectCommand.run([`${reg.host}/test/multi:nope`], testContext()).catch((err) => err);
    expect(e).toBeInstanceOf(UserError);
    expect(e.message).toMatch(new RegExp(`^inspect ${reg.host}/test/multi:nope: 404 not found: .* at ${reg.host}$`));
  });
});
