// Crash recovery: `edgebuild pull` and `edgebuild build` (overlay) are SIGKILLed at seeded random
// points, then the same command runs again on the same root. It must succeed, and the root must
// be sound afterwards (see crash-state.ts): blobs verify, du agrees, and no mount, runc container,
// temp dir or half-made snapshot survives. EDGEBUILD_CRASH_ITERATIONS (default 25) and
// EDGEBUILD_CRASH_SEED change the budget.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { skopeoOk } from '../harness/registry-images.ts';
import { unmountAll } from '../../core/snapshot/mount.ts';
import { rng } from '../fuzz/engine.ts';
import { stateProblems } from './crash-state.ts';
import { layerTar, noise, pushEstargz } from '../plugins/snapshotter-stargz/helpers.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { digestOf } from '../../core/content/digest.ts';
import { gunzipSync } from 'node:zlib';

// CI budget: 25 pulls (~1 min) but 6 builds (an undisturbed build of the Debian base takes
// ~10 s here, killed + rerun ~25 s); EDGEBUILD_CRASH_ITERATIONS=25 runs the full 25 of each.
const ITERATIONS = { pull: Number(process.env.EDGEBUILD_CRASH_ITERATIONS ?? 25), build: Number(process.env.EDGEBUILD_CRASH_ITERATIONS ?? 6), 'build-stargz': Number(process.env.EDGEBUILD_CRASH_ITERATIONS ?? 6) };
// Per-test timeout: generous for the iterations asked, but bounded so a hang (a mount nobody serves)
// fails the test instead of eating CI's whole budget.
const timeoutFor = (name: keyof typeof ITERATIONS) => Math.max(600_000, ITERATIONS[name] * 60_000);
const SEED = Number(process.env.EDGEBUILD_CRASH_SEED ?? 8);
const repo = join(import.meta.dir, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'eb-crash-'));
let reg: TestRegistry;
let base: string;
const figures: string[] = [];

beforeAll(async () => {
  const layout = await testImage('debian-base');
  reg = await startRegistry();
  base = `${reg.host}/debian:bookworm`;
  skopeoOk('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${base}`);
}, 300_000);

afterAll(async () => {
  console.log(`crash iterations:\n  ${figures.join('\n  ')}`);
  await reg?.stop();
  for (const m of await mountsUnder(work)) await unmountAll(m).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

/** Starts edgebuild, kills it with SIGKILL after `ms` (unless it finished first). */
async function killAfter(args: string[], ms: number): Promise<'killed' | 'finished'> {
  const argv = process.env.EDGEBUILD_BIN ? [process.env.EDGEBUILD_BIN, ...args] : [process.execPath, join(repo, 'cli/main.ts'), ...args];
  const p = Bun.spawn(argv, { cwd: repo, env: { ...process.env, EDGEBUILD_CONFIG: '' }, stdout: 'ignore', stderr: 'ignore' });
  const done = await Promise.race([p.exited.then(() => true), Bun.sleep(ms).then(() => false)]);
  if (done) return 'finished';
  p.kill('SIGKILL');
  await p.exited;
  return 'killed';
}

async function crashLoop(name: keyof typeof ITERATIONS, makeArgs: (root: string, i: number) => string[], snapshotter?: string): Promise<void> {
  const r = rng(SEED);
  // How long one undisturbed run takes: kill points are spread over it.
  const probeRoot = join(work, `${name}-probe`);
  const t0 = Date.now();
  const first = await edgebuild(makeArgs(probeRoot, -1));
  if (first.code !== 0) throw new Error(`${name}: undisturbed run failed: ${first.err}`);
  const full = Date.now() - t0;
  rmSync(probeRoot, { recursive: true, force: true });
  let killed = 0;
  for (let i = 0; i < ITERATIONS[name]; i++) {
    const root = join(work, `${name}-${i}`);
    const at = Math.floor(r() * full * 1.1);
    const how = await killAfter(makeArgs(root, i), at);
    if (how === 'killed') killed++;
    const again = await edgebuild(makeArgs(root, i));
    if (again.code !== 0) throw new Error(`${name} #${i}: the run after a kill at ${at}ms failed: ${again.err}`);
    // One more start (the cleanup happens at start): nothing of the killed run may be left.
    expect({ i, at, problems: await stateProblems(root, snapshotter) }).toEqual({ i, at, problems: [] });
    for (const m of await mountsUnder(root)) await unmountAll(m);
    rmSync(root, { recursive: true, force: true });
  }
  figures.push(`${name}: ${ITERATIONS[name]} iterations (${killed} killed mid-run, undisturbed run ${full}ms), all recovered`);
}

describe('crash recovery', () => {
  test('[slow] pull killed at random points, then pulled again', async () => {
    await crashLoop('pull', (root) => ['--root', root, 'pull', base]);
  }, timeoutFor('pull'));

  test('[slow] build (overlay) killed at random points, then built again', async () => {
    const ctx = join(work, 'ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'data.txt'), 'data\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base}
RUN for i in 1 2 3; do echo step $i; sleep 0.1; done && head -c 3000000 /dev/urandom > /big
COPY data.txt /data.txt
RUN cat /data.txt > /copy.txt
`);
    await crashLoop('build', (root, i) => ['--root', root, 'build', '--snapshotter', 'overlay', '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
      '--output', `type=local,dest=${join(work, `out-${i}`)}`, '--output', `type=oci,dest=${join(work, `oci-${i}.tar`)}`], 'overlay');
  }, timeoutFor('build'));

  test('[slow] build (stargz, lazily mounted eStargz base) killed at random points, then built again', async () => {
    const pushed = await pushEstargz(reg.host, 'lazy/base', layerTar([{ name: 'data', type: 'dir' }, { name: 'data/read-me', data: noise(2_000_000, 1) }, { name: 'data/other', data: noise(1_000_000, 2) }]), { chunkSize: 256 * 1024 } as never);
    const client = new RegistryClient();
    const ref = parseReference(`${reg.host}/lazy/base:v1`);
    const config = new TextEncoder().encode(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [digestOf(gunzipSync(pushed.blob))] } }));
    await client.uploadBlob(ref, digestOf(config), config.length, config);
    const manifest = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: digestOf(config), size: config.length }, layers: [pushed.layer.descriptor] };
    await client.putManifest(ref, new TextEncoder().encode(JSON.stringify(manifest)), manifest.mediaType);
    const ctx = join(work, 'ctx-lazy');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'data.txt'), 'data\n');
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/lazy/base:v1 AS base
COPY data.txt /data.txt
FROM scratch
COPY --from=base /data/read-me /read-me
COPY --from=base /data.txt /data.txt
`);
    await crashLoop('build-stargz', (root, i) => ['--root', root, 'build', '--snapshotter', 'stargz', '--progress', 'plain', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
      '--output', `type=local,dest=${join(work, `lazy-out-${i}`)}`]);
  }, timeoutFor('build-stargz'));
});
