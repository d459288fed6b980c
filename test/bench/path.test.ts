// openBenchPath: registry (in a namespace of the bench's own, or on loopback, or an existing one)
// behind the delay line; shaping on demand; everything gone after close() and after a failed setup.
import { afterAll, expect, test } from 'bun:test';
import { shapingProblem } from '../../bench/net/netns.ts';
import { openBenchPath } from '../../bench/net/path.ts';
import { removeTempDirs, tempDir } from '../harness/temp-dir.ts';

afterAll(removeTempDirs);

const sh = (...argv: string[]) => Bun.spawnSync(argv).stdout.toString();

async function timedGet(host: string): Promise<{ status: number; ms: number }> {
  const t = performance.now();
  const r = await fetch(`http://${host}/v2/`);
  await r.arrayBuffer();
  return { status: r.status, ms: performance.now() - t };
}

test.skipIf(shapingProblem() !== undefined)('[slow] bench path in a namespace: registry answers through the delay line, shape() delays and rate-limits, close() removes it all', async () => {
  const exitHooks = process.listenerCount('exit');
  const path = await openBenchPath({ cacheDir: tempDir('benchpath-'), netns: { tag: 'ebpath', net: 233 } });
  const ns = path.netns!;
  try {
    expect(ns.name).toBe(`ebpath-${process.pid}`);
    expect(path.registry!.listen.host).toBe(ns.nsAddr);
    expect(process.listenerCount('exit')).toBe(exitHooks + 1);
    expect((await timedGet(path.host)).status).toBe(200);
    path.shape(40, 50e6);
    expect(sh('tc', 'qdisc', 'show', 'dev', ns.hostIf)).toMatch(/tbf .*rate 50Mbit/);
    path.delay.reset();
    const shaped = await timedGet(path.host);
    expect(shaped.status).toBe(200);
    expect(shaped.ms).toBeGreaterThanOrEqual(39);
    expect(path.delay.stats().requests).toBe(1);
  } finally {
    await path.close();
  }
  expect(sh('ip', 'netns', 'ls')).not.toContain(ns.name);
  expect(sh('ip', 'link', 'show')).not.toContain(ns.hostIf);
  expect(process.listenerCount('exit')).toBe(exitHooks);
}, 60_000);

test('[slow] bench path without a namespace: loopback registry; an existing registry gets only the delay line in front', async () => {
  const exitHooks = process.listenerCount('exit');
  const local = await openBenchPath({ cacheDir: tempDir('benchpath-') });
  try {
    expect(local.netns).toBeUndefined();
    expect(local.registry!.listen.host).toBe('127.0.0.1');
    expect((await timedGet(local.host)).status).toBe(200);
    // The same registry used as an existing one: nothing else is started.
    const front = await openBenchPath({ cacheDir: tempDir('benchpath-'), upstream: local.registry!.listen });
    try {
      expect(front.registry).toBeUndefined();
      front.shape(30);
      const r = await timedGet(front.host);
      expect(r.status).toBe(200);
      expect(r.ms).toBeGreaterThanOrEqual(29);
    } finally {
      await front.close();
    }
  } finally {
    await local.close();
  }
  expect(process.listenerCount('exit')).toBe(exitHooks);
}, 60_000);
