// Build cache shared through a registry: one root builds and exports its cache, a second, empty
// root imports it and gets every step CACHED, fetching only the layers its result needs.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startCountingProxy, type CountingProxy } from '../harness/counting-proxy.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';

let reg: TestRegistry;
let proxy: CountingProxy;
let work: string;
let ctxDir: string;
let baseLayer: string;

const DOCKERFILE = (base: string) => `FROM ${base} AS dev
COPY a.txt /a.txt
RUN cat /a.txt > /copy && echo built >> /copy
FROM scratch
COPY --from=dev /copy /out
`;

beforeAll(async () => {
  const layout = await testImage('debian-base');
  reg = await startRegistry();
  proxy = startCountingProxy(reg.host);
  const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/debian:base`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  const index = JSON.parse(fs.readFileSync(join(layout, 'index.json'), 'utf8'));
  const manifest = JSON.parse(fs.readFileSync(join(layout, 'blobs/sha256', index.manifests[0].digest.slice(7)), 'utf8'));
  baseLayer = manifest.layers[0].digest;
  work = fs.mkdtempSync(join(tmpdir(), 'eb-cache-'));
  ctxDir = join(work, 'ctx');
  fs.mkdirSync(ctxDir);
  fs.writeFileSync(join(ctxDir, 'a.txt'), 'hello cache\n');
  fs.writeFileSync(join(ctxDir, 'Dockerfile'), DOCKERFILE(`${proxy.host}/debian:base`));
}, 600_000);

afterAll(async () => {
  proxy?.stop();
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const build = (root: string, extra: string[], dir = ctxDir) =>
  edgebuild(['--root', root, 'build', '--progress', 'plain', ...extra, dir]);

/** `#N [stage] STEP` lines must each have a `#N CACHED`. */
function expectAllCached(err: string): void {
  const steps = err.split('\n').filter((l) => /^#\d+ \[(dev|stage-1) \d+\/\d+\] (COPY|RUN)/.test(l));
  expect(steps.length).toBeGreaterThanOrEqual(1);
  for (const l of steps) expect(err).toContain(`${l.split(' ')[0]} CACHED`);
  expect(err).not.toMatch(/\] RUN [^\n]*\n#\d+ [0-9.]+ /); // no RUN produced output
}

describe('cache through a registry [slow]', () => {
  test('mode=max round trip: second root has every step CACHED and fetches only the final layer', async () => {
    const ref = `${proxy.host}/cache/app:max`;
    const first = await build(join(work, 'root1'), ['--export-cache', `type=registry,ref=${ref},mode=max`, '-o', `type=local,dest=${join(work, 'out1')}`]);
    expect(first.err).toContain('cache exported to');
    expect(first.code).toBe(0);
    expect(fs.readFileSync(join(work, 'out1', 'out'), 'utf8')).toBe('hello cache\nbuilt\n');

    proxy.requests.length = 0;
    const root2 = join(work, 'root2');
    // The second host has the same files at another path: cache keys hold content, not paths.
    const elsewhere = join(work, 'elsewhere', 'project');
    fs.cpSync(ctxDir, elsewhere, { recursive: true });
    const second = await build(root2, ['--import-cache', `type=registry,ref=${ref}`, '-o', `type=local,dest=${join(work, 'out2')}`], elsewhere);
    expect(second.code).toBe(0);
    expectAllCached(second.err);
    expect(fs.readFileSync(join(work, 'out2', 'out'), 'utf8')).toBe('hello cache\nbuilt\n');
    // The 29 MB base layer is not needed for the scratch stage's result: never fetched.
    expect(proxy.count('GET', baseLayer)).toBe(0);
    const blobGets = proxy.requests.filter((r) => r.method === 'GET' && r.path.includes('/blobs/sha256:'));
    // base config + cache config + the one layer of the result
    expect(blobGets.length).toBe(3);
    expect(await mountsUnder(root2)).toEqual([]);
  }, 600_000);

  test('editing a.txt misses the cache for COPY a.txt and everything after it', async () => {
    const ref = `${proxy.host}/cache/app:max`;
    fs.writeFileSync(join(ctxDir, 'a.txt'), 'changed\n');
    try {
      const r = await build(join(work, 'root3'), ['--import-cache', `type=registry,ref=${ref}`, '-o', `type=local,dest=${join(work, 'out3')}`]);
      expect(r.code).toBe(0);
      expect(fs.readFileSync(join(work, 'out3', 'out'), 'utf8')).toBe('changed\nbuilt\n');
      expect(r.err).toMatch(/RUN cat \/a.txt/);
      expect(r.err).not.toMatch(/\[dev 3\/3\] RUN[^\n]*\n#\d+ CACHED/);
    } finally {
      fs.writeFileSync(join(ctxDir, 'a.txt'), 'hello cache\n');
    }
  }, 600_000);

  test('type=local round trip and inline cache in a pushed image', async () => {
    const dir = join(work, 'cache-dir');
    const a = await build(join(work, 'root1'), ['--export-cache', `type=local,dest=${dir},mode=max`]);
    expect(a.code).toBe(0);
    expect(fs.existsSync(join(dir, 'index.json'))).toBe(true);
    const b = await build(join(work, 'root4'), ['--import-cache', `type=local,src=${dir}`, '-o', `type=local,dest=${join(work, 'out4')}`]);
    expect(b.code).toBe(0);
    expectAllCached(b.err);
    expect(fs.readFileSync(join(work, 'out4', 'out'), 'utf8')).toBe('hello cache\nbuilt\n');

    const image = `${proxy.host}/app:inline`;
    const c = await build(join(work, 'root1'), ['--export-cache', 'type=inline', '-o', `type=image,name=${image},push=true`]);
    expect(c.code).toBe(0);
    const d = await build(join(work, 'root5'), ['--import-cache', `type=registry,ref=${image}`, '-o', `type=local,dest=${join(work, 'out5')}`]);
    expect(d.code).toBe(0);
    expectAllCached(d.err);
    expect(fs.readFileSync(join(work, 'out5', 'out'), 'utf8')).toBe('hello cache\nbuilt\n');
  }, 600_000);

  test('mode=min carries only the final stage: one step, one layer; a second root still gets the result CACHED', async () => {
    const ref = `${proxy.host}/cache/app:min`;
    const first = await build(join(work, 'root1'), ['--export-cache', `type=registry,ref=${ref},mode=min`]);
    expect(first.code).toBe(0);
    expect(first.err).toContain(`cache exported to ${ref} (mode=min): 1 steps, 1 layers`);
    const second = await build(join(work, 'root6'), ['--import-cache', `type=registry,ref=${ref}`, '-o', `type=local,dest=${join(work, 'out6')}`]);
    expect(second.code).toBe(0);
    expectAllCached(second.err);
    expect(fs.readFileSync(join(work, 'out6', 'out'), 'utf8')).toBe('hello cache\nbuilt\n');
  }, 600_000);

  test('a bad --export-cache is one clear line', async () => {
    const r = await build(join(work, 'root1'), ['--export-cache', 'type=registry,mode=max']);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('edgebuild: build: --export-cache type=registry,mode=max: type=registry needs ref=');
  });
});
