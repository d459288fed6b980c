// Crash recovery of `edgebuild daemon`: a client build runs through the daemon, the daemon is
// SIGKILLed at a seeded random point, a new daemon starts on the same root, the same build runs
// to completion through it, and after a clean SIGTERM the root is sound (crash-state.ts).
// EDGEBUILD_CRASH_ITERATIONS (default 3 here; 25 for the full run), EDGEBUILD_CRASH_SEED.
import { afterAll, beforeAll, expect, test } from 'bun:test';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { skopeoOk } from '../harness/registry-images.ts';
import { unmountAll } from '../../core/snapshot/mount.ts';
import { rng } from '../fuzz/engine.ts';
import { stateProblems } from './crash-state.ts';

const ITERATIONS = Number(process.env.EDGEBUILD_CRASH_ITERATIONS ?? 3);
const SEED = Number(process.env.EDGEBUILD_CRASH_SEED ?? 8);
const repo = join(import.meta.dir, '..', '..');
const work = mkdtempSync(join(tmpdir(), 'eb-dcrash-'));
let reg: TestRegistry;
let ctx: string;

beforeAll(async () => {
  const layout = await testImage('debian-base');
  reg = await startRegistry();
  skopeoOk('copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/debian:bookworm`);
  ctx = join(work, 'ctx');
  mkdirSync(ctx);
  writeFileSync(join(ctx, 'data.txt'), 'data\n');
  writeFileSync(join(ctx, 'Dockerfile'), `FROM ${reg.host}/debian:bookworm\nRUN for i in 1 2 3; do echo $i; sleep 0.1; done > /steps\nCOPY data.txt /data.txt\n`);
}, 300_000);

afterAll(async () => {
  await reg?.stop();
  for (const m of await mountsUnder(work)) await unmountAll(m).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

async function startDaemon(root: string, sock: string): Promise<ReturnType<typeof Bun.spawn>> {
  const d = Bun.spawn([process.execPath, join(repo, 'cli/main.ts'), '--root', root, 'daemon', '--addr', `unix://${sock}`, '--oci-worker-snapshotter', 'overlay'], { cwd: repo, env: { ...process.env, EDGEBUILD_CONFIG: '' }, stdout: 'ignore', stderr: 'ignore' });
  const deadline = Date.now() + 30_000;
  while (!existsSync(sock)) {
    if (d.exitCode !== null || Date.now() > deadline) throw new Error(`daemon on ${sock} did not start (exit ${d.exitCode})`);
    await Bun.sleep(50);
  }
  return d;
}

const build = (sock: string, out: string) => edgebuild(['--addr', `unix://${sock}`, 'build', '--progress', 'plain', '-o', `type=local,dest=${out}`, ctx]);

test('[slow] daemon SIGKILLed during a build; a new daemon on the same root builds it and leaves the root sound', async () => {
  const r = rng(SEED);
  const probeRoot = join(work, 'probe');
  const probeSock = join(work, 'probe.sock');
  const probe = await startDaemon(probeRoot, probeSock);
  const t0 = Date.now();
  const first = await build(probeSock, join(work, 'probe-out'));
  const full = Date.now() - t0;
  probe.kill('SIGTERM');
  await probe.exited;
  if (first.code !== 0) throw new Error(`undisturbed build failed: ${first.err}`);
  rmSync(probeRoot, { recursive: true, force: true });
  let killed = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const root = join(work, `root-${i}`);
    const sock = join(work, `d-${i}.sock`);
    const at = Math.floor(r() * full);
    const d1 = await startDaemon(root, sock);
    const client = build(sock, join(work, `out-a-${i}`));
    const finished = await Promise.race([client.then(() => true), Bun.sleep(at).then(() => false)]);
    d1.kill('SIGKILL');
    await d1.exited;
    const first = await client;
    if (!finished) {
      killed++;
      expect(first.code).not.toBe(0);
    }
    rmSync(sock, { force: true });
    const d2 = await startDaemon(root, sock);
    const again = await build(sock, join(work, `out-b-${i}`));
    d2.kill('SIGTERM');
    await d2.exited;
    if (again.code !== 0) throw new Error(`#${i}: build after a daemon kill at ${at}ms failed: ${again.err}`);
    expect({ i, at, problems: await stateProblems(root, 'overlay') }).toEqual({ i, at, problems: [] });
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`daemon crash: ${ITERATIONS} iterations (${killed} killed mid-build, undisturbed build ${full}ms), all recovered`);
}, 3_600_000);
