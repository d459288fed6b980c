// `edgebuild convert` and `inspect` of eStargz layers: registry → registry and oci → oci, the
// reference Go package verifies every converted layer, --optimize records what a workload opens,
// inspect --verify passes and catches a tampered blob, bad input fails in one line leaving nothing.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { convertCommand } from '../../cli/commands/convert.ts';
import { inspectCommand } from '../../cli/commands/inspect.ts';
import { UserError } from '../../cli/command.ts';
import { testContext } from '../harness/command-context.ts';
import { startRegistry, registryBlobPath, type TestRegistry } from '../harness/registry.ts';
import { buildImage, skopeoOk } from '../harness/registry-images.ts';
import { testImage } from '../harness/images.ts';
import { tempDir, removeTempDirs } from '../harness/temp-dir.ts';
import { buildChecker, goVerify } from '../interop/estargz-check/build-checker.ts';
import { OciLayout } from '../../core/image/oci-layout.ts';
import { openEstargz, fileSource, PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION, UNCOMPRESSED_SIZE_ANNOTATION } from '../../plugins/snapshotter-stargz/estargz/index.ts';

afterAll(removeTempDirs);

async function failure(run: Promise<number>): Promise<UserError> {
  const e = await run.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).not.toContain('\n');
  return e;
}

/** Manifest, config and layer files of the image an OCI layout names. */
async function readLayout(dir: string, tag: string) {
  const layout = new OciLayout(dir);
  const desc = await layout.resolve(tag);
  const manifest = JSON.parse(new TextDecoder().decode(await layout.readBlob(desc.digest)));
  const config = JSON.parse(new TextDecoder().decode(await layout.readBlob(manifest.config.digest)));
  return { manifest, config, blob: (d: string) => layout.blobPath(d) };
}

/** The reference accepts every layer and agrees with the config's diff_ids. */
function expectReferenceVerifies(checker: string, img: Awaited<ReturnType<typeof readLayout>>) {
  for (const [i, l] of img.manifest.layers.entries()) {
    const toc = l.annotations[TOC_DIGEST_ANNOTATION];
    expect(toc).toMatch(/^sha256:/);
    const go = goVerify(checker, img.blob(l.digest), toc);
    expect(go.diffID).toBe(img.config.rootfs.diff_ids[i]);
    expect(String(go.uncompressedSize)).toBe(l.annotations[UNCOMPRESSED_SIZE_ANNOTATION]);
  }
}

describe('convert: bad input', () => {
  test('flag and transport errors are one line, exit 2 for usage', async () => {
    const run = (...a: string[]) => failure(convertCommand.run(a, testContext()));
    expect((await run('--estargz', 'oci:/x')).exitCode).toBe(2);
    expect((await run('oci:/a', 'oci:/b')).message).toBe('convert: give exactly one of --estargz and --zstdchunked');
    expect((await run('--estargz', '--estargz-compression-level', '12', 'oci:/a', 'oci:/b')).message).toBe('convert: --estargz-compression-level "12": expected an integer from 0 to 9');
    expect((await run('--estargz', '--estargz-chunk-size', 'big', 'oci:/a', 'oci:/b')).message).toBe('convert: --estargz-chunk-size "big": expected an integer from 1 to 2147483648');
    expect((await run('--zstdchunked', 'oci:/a', 'oci:/b')).message).toMatch(/--zstdchunked needs --oci/);
    expect((await run('--estargz', '--period', '5', 'oci:/a', 'oci:/b')).message).toBe('convert: --period needs --optimize');
    expect((await run('--estargz', '--bogus', 'oci:/a', 'oci:/b')).message).toMatch(/unknown flag --bogus/);
    expect((await run('--estargz', '--optimize', '--args', 'print(1)', 'oci:/a', 'oci:/b')).message).toMatch(/--args "print\(1\)": expected a JSON array of strings/);
    expect((await run('--estargz', 'foo://bar', 'oci:/b')).message).toBe('convert foo://bar to oci:/b: "foo://bar": unknown transport (use docker://REF or oci:DIR[:TAG])');
  });

  test('unknown source, bad record file and unwritable destination leave nothing behind', async () => {
    const parent = tempDir('eb-conv-bad-');
    const dst = join(parent, 'out');
    const empty = tempDir('eb-conv-empty-');
    expect((await failure(convertCommand.run(['--estargz', `oci:${empty}:v1`, `oci:${dst}:v1`], testContext()))).message).toBe(`convert oci:${empty}:v1 to oci:${dst}:v1: oci:${empty}: not an OCI image layout (no oci-layout file)`);
    const rec = join(parent, 'rec.json');
    writeFileSync(rec, '{"path": 3}\n');
    expect((await failure(convertCommand.run(['--estargz', '--estargz-record-in', rec, `oci:${empty}:v1`, `oci:${dst}:v1`], testContext()))).message).toMatch(/rec\.json:1: .*path/);
    const img = await buildImage();
    const file = join(parent, 'a-file');
    writeFileSync(file, 'x');
    expect((await failure(convertCommand.run(['--estargz', `oci:${img.dir}:${img.tag}`, `oci:${file}:v1`], testContext()))).message).toBe(`convert: oci:${file}: exists and is not a directory`);
    expect((await failure(convertCommand.run(['--estargz', `oci:${img.dir}:${img.tag}`, `oci:/proc/eb-nope/x:v1`], testContext()))).message).toMatch(/^convert: oci:\/proc\/eb-nope\/x: cannot create \(ENOENT\)$/);
    expect(readdirSync(parent).sort()).toEqual(['a-file', 'rec.json']); // no staged layout left
  });

  test('a corrupt source layer fails naming the digest; the new layout never appears', async () => {
    const img = await buildImage();
    const layer = img.manifests[0].layers[1];
    writeFileSync(new OciLayout(img.dir).blobPath(layer.digest), 'garbage');
    const parent = tempDir('eb-conv-corrupt-');
    const e = await failure(convertCommand.run(['--estargz', '--oci', `oci:${img.dir}:${img.tag}`, `oci:${join(parent, 'out')}:v1`], testContext()));
    expect(e.message).toContain(layer.digest);
    expect(readdirSync(parent)).toEqual([]);
  });
});

describe('convert: oci layouts', () => {
  let checker = '';
  beforeAll(() => {
    checker = buildChecker();
  });

  test('oci → oci with --estargz-record-in: reference verifies, recorded file comes first, the manifest family decides layer types without --oci', async () => {
    const img = await buildImage({ layerMediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip', layers: [{ 'etc/a.txt': 'a', 'etc/b.txt': 'b', 'etc/c.txt': 'c' }] });
    const rec = join(tempDir('eb-rec-'), 'rec.json');
    writeFileSync(rec, '{"path":"/etc/c.txt","layerIndex":0}\n{"path":"etc/c.txt"}\n');
    const out = join(tempDir('eb-conv-'), 'out');
    const ctx = testContext();
    expect(await convertCommand.run(['--estargz', '--estargz-record-in', rec, '--estargz-chunk-size', '1024', `oci:${img.dir}:${img.tag}`, `oci:${out}:es`], ctx)).toBe(0);
    expect(ctx.stderr.join('\n')).not.toMatch(/warning/);
    expect(ctx.stderr.join('\n')).toMatch(/layer 1\/1 sha256:\w{12} .* -> sha256:\w{12} .*1 prioritized/);
    const conv = await readLayout(out, 'es');
    // An OCI manifest listing a Docker layer type: the converted layer follows the manifest's family.
    expect(conv.manifest.layers[0].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
    expectReferenceVerifies(checker, conv);
    const l = conv.manifest.layers[0];
    const reader = await openEstargz(fileSource(conv.blob(l.digest), l.size), { layerDigest: l.digest, expectedTocDigest: l.annotations[TOC_DIGEST_ANNOTATION] });
    expect(reader.landmark().prioritizedFiles).toEqual(['etc/c.txt']);
    // Converting again keeps the layer as it is.
    const again = testContext();
    expect(await convertCommand.run(['--estargz', '--oci', `oci:${out}:es`, `oci:${out}:es2`], again)).toBe(0);
    expect(again.stderr.join('\n')).toMatch(/layer 1\/1 .*kept \(already eStargz\)/);
    expect((await readLayout(out, 'es2')).manifest.layers[0].digest).toBe(l.digest);
  });

  test('--all-platforms converts every manifest of an index; --platform picks one', async () => {
    const img = await buildImage({ platforms: ['linux/amd64', 'linux/arm64'] });
    const out = join(tempDir('eb-conv-multi-'), 'out');
    expect(await convertCommand.run(['--estargz', '--oci', '--all-platforms', `oci:${img.dir}:${img.tag}`, `oci:${out}:all`], testContext())).toBe(0);
    const layout = new OciLayout(out);
    const index = JSON.parse(new TextDecoder().decode(await layout.readBlob((await layout.resolve('all')).digest)));
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture)).toEqual(['amd64', 'arm64']);
    for (const m of index.manifests) {
      const manifest = JSON.parse(new TextDecoder().decode(await layout.readBlob(m.digest)));
      expect(manifest.layers.every((l: { annotations?: Record<string, string> }) => l.annotations?.[TOC_DIGEST_ANNOTATION])).toBe(true);
    }
    const ctx = testContext();
    expect(await convertCommand.run(['--estargz', '--oci', '--platform', 'linux/arm64', `oci:${img.dir}:${img.tag}`, `oci:${out}:arm`], ctx)).toBe(0);
    expect(ctx.stdout[0]).toBe(index.manifests[1].digest); // same conversion, same bytes
  });

  test('a Docker schema2 source keeps Docker types without --oci, with a warning', async () => {
    const img = await buildImage();
    const layout = new OciLayout(img.dir);
    const m = JSON.parse(new TextDecoder().decode(img.manifests[0].bytes));
    const cfgBytes = await layout.readBlob(m.config.digest);
    const cfg = { mediaType: 'application/vnd.docker.container.image.v1+json', digest: m.config.digest, size: cfgBytes.length };
    const docker = { schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', config: cfg, layers: m.layers.map((l: object) => ({ ...l, mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip' })) };
    const bytes = new TextEncoder().encode(JSON.stringify(docker));
    const desc = { mediaType: docker.mediaType, digest: `sha256:${new Bun.CryptoHasher('sha256').update(bytes).digest('hex')}`, size: bytes.length };
    await layout.writeBlob(desc, [bytes]);
    await layout.setRef(desc, 'docker');
    const out = join(tempDir('eb-conv-docker-'), 'out');
    const ctx = testContext();
    expect(await convertCommand.run(['--estargz', `oci:${img.dir}:docker`, `oci:${out}:d`], ctx)).toBe(0);
    expect(ctx.stderr.join('\n')).toMatch(/warning: the result keeps Docker media types/);
    const conv = await readLayout(out, 'd');
    expect(conv.manifest.mediaType).toBe(docker.mediaType);
    expect(conv.manifest.config.mediaType).toBe(cfg.mediaType);
    expect(conv.manifest.layers.every((l: { mediaType: string }) => l.mediaType === 'application/vnd.docker.image.rootfs.diff.tar.gzip')).toBe(true);
    expectReferenceVerifies(checker, conv);
    const forced = testContext();
    expect(await convertCommand.run(['--estargz', '--oci', `oci:${img.dir}:docker`, `oci:${out}:o`], forced)).toBe(0);
    expect((await readLayout(out, 'o')).manifest.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    expect(forced.stderr.join('\n')).not.toMatch(/warning/);
  });

  test('--zstdchunked --oci: zstd:chunked layers the reference verifies', async () => {
    const img = await buildImage();
    const out = join(tempDir('eb-conv-zstd-'), 'out');
    expect(await convertCommand.run(['--zstdchunked', '--oci', '--zstdchunked-compression-level', '5', `oci:${img.dir}:${img.tag}`, `oci:${out}:z`], testContext())).toBe(0);
    const conv = await readLayout(out, 'z');
    for (const l of conv.manifest.layers) {
      expect(l.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
      expect(l.annotations['io.containers.zstd-chunked.manifest-checksum']).toMatch(/^sha256:/);
    }
    expectReferenceVerifies(checker, conv);
  });

  test('[slow] --optimize on the python image records python3 ahead of the landmark; record file is ctr-remote format', async () => {
    const src = await testImage('python');
    const out = join(tempDir('eb-opt-'), 'out');
    const recOut = join(tempDir('eb-opt-rec-'), 'rec.json');
    const ctx = testContext();
    const code = await convertCommand.run(['--estargz', '--oci', '--optimize', '--entrypoint', '["python3","-c"]', '--args', '["print(1)"]', '--period', '30', '--estargz-record-out', recOut, `oci:${src}:latest`, `oci:${out}:opt`], ctx);
    expect(code).toBe(0);
    const records = readFileSync(recOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const python = records.find((r) => /^usr\/bin\/python3\.\d+$/.test(r.path));
    expect(python).toBeDefined();
    expect(python.layerIndex).toBe(1);
    expect(python.manifestDigest).toMatch(/^sha256:/);
    const conv = await readLayout(out, 'opt');
    expectReferenceVerifies(checker, conv);
    const l = conv.manifest.layers[1];
    const reader = await openEstargz(fileSource(conv.blob(l.digest), l.size), { layerDigest: l.digest });
    const mark = reader.landmark();
    expect(mark.kind).toBe('prefetch');
    expect(mark.prioritizedFiles).toContain(python.path);
    const names = reader.entries.map((e) => e.name);
    expect(names.indexOf(python.path)).toBeLessThan(names.indexOf(PREFETCH_LANDMARK));
    // The record feeds a plain conversion the same way ctr-remote's does.
    const out2 = join(tempDir('eb-opt2-'), 'out');
    expect(await convertCommand.run(['--estargz', '--oci', '--estargz-record-in', recOut, `oci:${src}:latest`, `oci:${out2}:r`], testContext())).toBe(0);
    const l2 = (await readLayout(out2, 'r')).manifest.layers[1];
    expect((await openEstargz(fileSource(join(out2, 'blobs/sha256', l2.digest.slice(7)), l2.size), { layerDigest: l2.digest })).landmark().prioritizedFiles).toContain(python.path);
  }, 180_000);
});

describe('convert and inspect: registry', () => {
  let reg: TestRegistry;
  let checker = '';
  beforeAll(async () => {
    reg = await startRegistry();
    checker = buildChecker();
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('[slow] registry → registry: skopeo sees the annotations, reference verifies, inspect --verify passes then fails on a tampered blob', async () => {
    const img = await buildImage({ layers: [{ 'etc/hello.txt': 'hello\n' }, { 'app/data.bin': 'x'.repeat(300_000) }] });
    skopeoOk('copy', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/src/app:1`);
    const ctx = testContext();
    expect(await convertCommand.run(['--estargz', '--oci', `${reg.host}/src/app:1`, `docker://${reg.host}/dst/app:esgz`], ctx)).toBe(0);
    const digest = ctx.stdout[0];
    const raw = JSON.parse(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/dst/app:esgz`));
    for (const l of raw.layers) {
      expect(l.annotations[TOC_DIGEST_ANNOTATION]).toMatch(/^sha256:/);
      expect(l.annotations[UNCOMPRESSED_SIZE_ANNOTATION]).toMatch(/^\d+$/);
    }
    const local = join(tempDir('eb-conv-pull-'), 'img');
    skopeoOk('copy', '--src-tls-verify=false', `docker://${reg.host}/dst/app:esgz`, `oci:${local}:x`);
    const pulled = await readLayout(local, 'x');
    expect(pulled.manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(raw.layers.map((l: { digest: string }) => l.digest));
    expectReferenceVerifies(checker, pulled);
    expect(digest).toBe(`sha256:${new Bun.CryptoHasher('sha256').update(skopeoOk('inspect', '--raw', '--tls-verify=false', `docker://${reg.host}/dst/app:esgz`)).digest('hex')}`);

    const ok = testContext();
    expect(await inspectCommand.run([`${reg.host}/dst/app:esgz`, '--verify', '--verbose'], ok)).toBe(0);
    const text = ok.stdout.join('\n');
    expect(text).toMatch(/toc: \d+ entries, no prioritized files \(\.no\.prefetch\.landmark\)/);
    expect(text.match(/verify: pass/g)?.length).toBe(2);

    // Flip one byte inside the second layer's file data on the registry's disk.
    const target = raw.layers[1];
    const path = registryBlobPath(reg, target.digest);
    const bytes = readFileSync(path);
    bytes[Math.floor(bytes.length / 3)] ^= 0xff;
    writeFileSync(path, bytes);
    const bad = testContext();
    expect(await inspectCommand.run([`${reg.host}/dst/app:esgz`, '--verify', '--json'], bad)).toBe(1);
    const info = JSON.parse(bad.stdout.join('\n'));
    expect(info.layers[0].toc.verify.ok).toBe(true);
    expect(info.layers[0].toc.entries).toBe(2); // etc/hello.txt and .no.prefetch.landmark
    expect(info.layers[1].toc.verify.ok).toBe(false);
    expect(info.layers[1].toc.verify.error).toContain(target.digest);
  }, 60_000);

  test('[slow] unknown source repository: one line, destination tag never created', async () => {
    const e = await failure(convertCommand.run(['--estargz', '--oci', `${reg.host}/nope/none:1`, `${reg.host}/dst/none:1`], testContext()));
    expect(e.message).toMatch(new RegExp(`^convert ${reg.host.replace(/\./g, '\\.')}/nope/none:1 to `));
    expect(existsSync(join(reg.storageDir, 'docker/registry/v2/repositories/dst/none/_manifests/tags/1'))).toBe(false);
  }, 30_000);
});
