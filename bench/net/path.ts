// The path between a bench and its registry: Debian's docker-registry (in a network namespace of
// the bench's own when one is given, else on a loopback port) or an existing registry, always
// behind the delay line (which counts requests and bytes, and delays when shaped). Used by
// `edgebuild bench` and plugins/snapshotter-stargz/bench.ts. Everything it starts is torn down by
// close(), on a failed setup, and by a process exit hook when nothing unwinds (second Ctrl-C).
import { startDelayLine, type DelayLine } from './delay-line.ts';
import { createNetns, type BenchNetns } from './netns.ts';
import { startBenchRegistry, type BenchRegistry } from './registry.ts';

export interface BenchPathOptions {
  /** Where the started registry keeps its storage (`DIR/registry/storage`). */
  cacheDir: string;
  /** Put the started registry in a new network namespace (tag and /16 as createNetns takes). */
  netns?: { tag?: string; net?: number };
  /** An existing registry to put the delay line in front of; nothing is started then. */
  upstream?: { host: string; port: number };
}

export interface BenchPath {
  /** host:port clients use (the delay line's). */
  host: string;
  delay: DelayLine;
  registry?: BenchRegistry;
  netns?: BenchNetns;
  /** Starts shaping: `tc tbf` at `rateBps` on both veth ends (namespace only), delay of `rttMs`. */
  shape(rttMs: number, rateBps?: number): void;
  close(): Promise<void>;
}

export async function openBenchPath(opts: BenchPathOptions): Promise<BenchPath> {
  let netns: BenchNetns | undefined;
  let registry: BenchRegistry | undefined;
  let delay: DelayLine | undefined;
  // Last resort when the process exits without unwinding: nothing may outlive us.
  const teardownSync = () => {
    registry?.killSync();
    netns?.teardown();
  };
  process.once('exit', teardownSync);
  const close = async () => {
    await delay?.close().catch(() => {});
    await registry?.stop().catch(() => {});
    netns?.teardown();
    process.off('exit', teardownSync);
  };
  try {
    let upstream = opts.upstream;
    if (!upstream) {
      netns = opts.netns ? createNetns(opts.netns) : undefined;
      registry = await startBenchRegistry(opts.cacheDir, netns);
      upstream = registry.listen;
    }
    const line = await startDelayLine(upstream, 0);
    delay = line;
    const ns = netns;
    return {
      host: line.host,
      delay: line,
      registry,
      netns,
      shape(rttMs, rateBps) {
        if (ns && rateBps) ns.setRate(rateBps);
        line.setRtt(rttMs);
      },
      close,
    };
  } catch (e) {
    await close();
    throw e;
  }
}
