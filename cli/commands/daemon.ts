// `edgebuild daemon`: the buildkitd counterpart. Serves builds over a unix socket (and optionally
// TCP with TLS client certificates) until SIGTERM/SIGINT, then cancels running builds cleanly.
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { startDaemon } from '../../core/daemon/server.ts';
import { DEFAULT_SOCKET } from '../../core/daemon/address.ts';
import { builtinPlugins } from '../../plugins/builtin.ts';
import pkg from '../../package.json' with { type: 'json' };

export const daemonCommand: Command = {
  name: 'daemon',
  summary: 'Serve builds to `edgebuild --addr …` clients (like buildkitd)',
  help: `Usage: edgebuild daemon [--addr unix:///run/edgebuild/edgebuild.sock] [--addr tcp://HOST:PORT] [flags]

  --addr ADDR                          listen address, repeatable (default unix://${DEFAULT_SOCKET});
                                       the socket is created mode 0660 (also: --listen ADDR)
  --group NAME|GID                     group owning the socket; its members may build
  --tlscert FILE --tlskey FILE         server certificate for tcp:// addresses
  --tlscacert FILE                     CA that client certificates must chain to (required for
                                       TCP on a non-loopback host)
  --oci-worker-snapshotter overlay|stargz|native|auto   (config: [worker.oci] snapshotter)
  --oci-worker-proxy-snapshotter-path PATH   keep snapshots in a proxy snapshotter on that socket
                                       (config: [worker.oci] proxySnapshotterPath), e.g.
                                       \`edgebuild snapshotter serve --socket PATH --type stargz\`:
                                       it mounts eStargz bases lazily with each build's registry
                                       credentials (leased per call, never stored); this daemon
                                       mounts what it returns and runs the build's containers
  --config FILE, --root DIR            as for every command

Builds share one content store, cache and lazy mounts. With [worker.oci] gc = true the root is
kept under maxUsedSpace (never pruning below reservedSpace) after each build and every 10 minutes.
SIGTERM cancels running builds, removes their mounts and containers, then exits.`,
  async run(args, ctx) {
    const { flags } = parseFlags('daemon', args, [
      { name: 'listen', type: 'list' },
      { name: 'tlscert', type: 'string' },
      { name: 'tlskey', type: 'string' },
      { name: 'tlscacert', type: 'string' },
      { name: 'group', type: 'string' },
      { name: 'oci-worker-snapshotter', type: 'string' },
      { name: 'oci-worker-proxy-snapshotter-path', type: 'string' },
    ]);
    // --addr is a global flag and main.ts keeps only the last; a daemon may listen on several, so
    // every --addr of this process's command line counts (--listen ADDR works as well).
    const addrs = [...repeatedAddrs(ctx.addr), ...(flags.listen as string[])];
    if (addrs.length === 0) addrs.push(`unix://${DEFAULT_SOCKET}`);
    const cert = flags.tlscert as string | undefined;
    const key = flags.tlskey as string | undefined;
    if (Boolean(cert) !== Boolean(key)) throw new UserError('daemon: --tlscert and --tlskey go together', 2);
    if (flags.tlscacert && !cert) throw new UserError('daemon: --tlscacert needs --tlscert and --tlskey', 2);
    const proxyFlag = flags['oci-worker-proxy-snapshotter-path'] as string | undefined;
    if (proxyFlag !== undefined && flags['oci-worker-snapshotter'] !== undefined) throw new UserError('daemon: --oci-worker-snapshotter and --oci-worker-proxy-snapshotter-path exclude each other (the proxy process chooses its snapshotter: `edgebuild snapshotter serve --type …`)', 2);
    if (proxyFlag === '') throw new UserError('daemon: --oci-worker-proxy-snapshotter-path: empty path', 2);
    const proxy = proxyFlag ?? ctx.config.worker.oci.proxySnapshotterPath;
    const snapshotter = (flags['oci-worker-snapshotter'] as string | undefined) ?? ctx.config.worker.oci.snapshotter;
    let daemon;
    try {
      daemon = await startDaemon({
        addrs,
        root: ctx.root,
        config: ctx.config,
        configPath: ctx.configPath,
        version: pkg.version,
        plugins: builtinPlugins,
        snapshotter,
        proxySnapshotterPath: proxy,
        group: flags.group as string | undefined,
        tls: cert && key ? { cert, key, ca: flags.tlscacert as string | undefined } : undefined,
        log: ctx.err,
        debug: ctx.debug,
      });
    } catch (e) {
      throw new UserError(`daemon: ${(e as Error).message.split('\n')[0]}`);
    }
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ctx.err('edgebuild daemon: stopping (cancelling running builds)');
    await daemon.stop();
    ctx.err('edgebuild daemon: stopped');
    return 0;
  },
};

function repeatedAddrs(last: string | undefined): string[] {
  if (!last) return [];
  const all: string[] = [];
  const argv = process.argv;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') break;
    if (argv[i] === '--addr' && argv[i + 1] !== undefined) all.push(argv[++i]);
    else if (argv[i].startsWith('--addr=')) all.push(argv[i].slice('--addr='.length));
  }
  return all.includes(last) ? [...new Set(all)] : [last];
}
