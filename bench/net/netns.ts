// The bench network: a network namespace of bench's own, joined to the host by a veth pair with
// a /30 in 10.231.0.0/16 (another /16 for another tool), rate-limited with `tc tbf` on both ends.
// Names carry our pid so that parallel benches never collide and a leftover is traceable;
// teardown deletes exactly what setup made.
import { spawnSync } from 'node:child_process';

export interface BenchNetns {
  name: string;
  /** Host end of the veth pair and its address. */
  hostIf: string;
  hostAddr: string;
  /** Namespace end: where the registry listens. */
  nsAddr: string;
  /** Puts `tc tbf` at this rate (bit/s) on both veth ends. */
  setRate(rateBps: number): void;
  teardown(): void;
}

function ip(args: string[], what: string): void {
  const p = spawnSync('ip', args, { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`${what}: ip ${args.join(' ')} exited ${p.status}: ${(p.stderr || p.error?.message || '').trim()}`);
}

function tc(args: string[], what: string): void {
  const p = spawnSync('tc', args, { encoding: 'utf8' });
  if (p.status !== 0) throw new Error(`${what}: tc ${args.join(' ')} exited ${p.status}: ${(p.stderr || p.error?.message || '').trim()}`);
}

/** Why shaping cannot work here, or undefined when it can (root, `ip` and `tc` present). */
export function shapingProblem(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root (network namespaces and tc need CAP_NET_ADMIN)';
  for (const tool of ['ip', 'tc']) {
    const p = spawnSync(tool, ['-V'], { encoding: 'utf8' });
    if (p.error) return `${tool} (iproute2) is not installed`;
  }
  return undefined;
}

/** tbf needs a bucket of at least one MTU plus the bytes that arrive in one timer tick. */
function tbfArgs(dev: string, rateBps: number): string[] {
  const burst = Math.max(32 * 1024, Math.ceil(rateBps / 8 / 250));
  return ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${rateBps}bit`, 'burst', String(burst), 'latency', '100ms'];
}

/**
 * Another bench tool sharing the machine passes its own `tag` (names `<tag>-PID`, interfaces
 * `<tag[0..2]>PIDh|n`) and `net` (second octet of its 10.x.0.0/16), so it never meets `edgebuild bench`'s.
 */
export function createNetns(opts: { tag?: string; net?: number } = {}): BenchNetns {
  const pid = process.pid;
  const tag = opts.tag ?? 'ebbench';
  const net = opts.net ?? 231;
  const name = `${tag}-${pid}`;
  const hostIf = `${tag.slice(0, 3)}${pid}h`.slice(0, 15);
  const nsIf = `${tag.slice(0, 3)}${pid}n`.slice(0, 15);
  // A /30 per bench process, taken from the pid so concurrent benches use different subnets.
  const n = (pid % 16384) * 4;
  const hostAddr = `10.${net}.${n >> 8}.${(n & 255) + 1}`;
  const nsAddr = `10.${net}.${n >> 8}.${(n & 255) + 2}`;
  let created = { ns: false, link: false };
  const teardown = () => {
    // Deleting the host end removes the pair; deleting the namespace ends whatever still runs in it.
    if (created.link) spawnSync('ip', ['link', 'del', hostIf]);
    if (created.ns) spawnSync('ip', ['netns', 'del', name]);
    created = { ns: false, link: false };
  };
  try {
    ip(['netns', 'add', name], 'creating the bench network namespace');
    created.ns = true;
    ip(['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf], 'creating the veth pair');
    created.link = true;
    ip(['link', 'set', nsIf, 'netns', name], 'moving the veth end into the namespace');
    ip(['addr', 'add', `${hostAddr}/30`, 'dev', hostIf], 'addressing the host end');
    ip(['link', 'set', hostIf, 'up'], 'raising the host end');
    ip(['-n', name, 'addr', 'add', `${nsAddr}/30`, 'dev', nsIf], 'addressing the namespace end');
    ip(['-n', name, 'link', 'set', nsIf, 'up'], 'raising the namespace end');
    ip(['-n', name, 'link', 'set', 'lo', 'up'], 'raising loopback in the namespace');
  } catch (e) {
    teardown();
    throw e;
  }
  const setRate = (rateBps: number) => {
    tc(tbfArgs(hostIf, rateBps), 'rate-limiting the host end');
    tc(['-n', name, ...tbfArgs(nsIf, rateBps)], 'rate-limiting the namespace end');
  };
  return { name, hostIf, hostAddr, nsAddr, setRate, teardown };
}
