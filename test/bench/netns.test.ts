import { expect, test } from 'bun:test';
import { createNetns, shapingProblem } from '../../bench/net/netns.ts';

const sh = (...argv: string[]) => Bun.spawnSync(argv).stdout.toString();

test.skipIf(shapingProblem() !== undefined)('bench netns: veth pair addressed, tbf on both ends, all gone after teardown', () => {
  const ns = createNetns();
  try {
    expect(sh('ip', 'netns', 'ls')).toContain(ns.name);
    expect(ns.nsAddr).toMatch(/^10\.231\.\d+\.\d+$/);
    expect(sh('ip', '-n', ns.name, 'addr', 'show')).toContain(`${ns.nsAddr}/30`);
    expect(sh('ip', 'addr', 'show', 'dev', ns.hostIf)).toContain(`${ns.hostAddr}/30`);
    ns.setRate(100e6);
    expect(sh('tc', 'qdisc', 'show', 'dev', ns.hostIf)).toMatch(/tbf .*rate 100Mbit/);
    expect(sh('ip', 'netns', 'exec', ns.name, 'tc', 'qdisc', 'show')).toMatch(/tbf .*rate 100Mbit/);
  } finally {
    ns.teardown();
  }
  expect(sh('ip', 'netns', 'ls')).not.toContain(ns.name);
  expect(sh('ip', 'link', 'show')).not.toContain(ns.hostIf);
});

test.skipIf(shapingProblem() !== undefined)('bench netns: another tool\'s tag and subnet coexist with edgebuild bench\'s in one process; teardown removes only its own', () => {
  const bench = createNetns();
  const other = createNetns({ tag: 'ebstargz', net: 232 });
  try {
    expect(other.name).toBe(`ebstargz-${process.pid}`);
    expect(other.hostIf).not.toBe(bench.hostIf);
    expect(other.nsAddr).toMatch(/^10\.232\.\d+\.\d+$/);
    expect(sh('ip', '-n', other.name, 'addr', 'show')).toContain(`${other.nsAddr}/30`);
    expect(bench.nsAddr).toMatch(/^10\.231\./);
    expect(sh('ip', 'addr', 'show', 'dev', other.hostIf)).toContain(`${other.hostAddr}/30`);
    other.teardown();
    expect(sh('ip', 'netns', 'ls')).not.toContain(other.name);
    expect(sh('ip', 'netns', 'ls')).toContain(bench.name);
    expect(sh('ip', 'link', 'show')).toContain(bench.hostIf);
  } finally {
    other.teardown();
    bench.teardown();
  }
});
