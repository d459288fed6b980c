// `edgebuild snapshotter serve`: one of edgebuild's snapshotters as a separate process speaking
// containerd's snapshots gRPC API on a unix socket, for containerd's [proxy_plugins] and for
// `edgebuild daemon --oci-worker-proxy-snapshotter-path`. It reads the same config file (registry
// mirrors, TLS) and auth plugins as every command, so lazy pulls see the same credentials.
import type { Command, CommandContext } from '../command.ts';
import type { PluginHost } from '../../core/plugin/host.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { clientFromContext } from '../../core/registry/from-config.ts';
import { serveSnapshotter } from '../../core/snapshot/proxy-server.ts';
import { blobSize } from '../../core/snapshot/blob-size.ts';
import type { Snapshotter } from '../../core/snapshot/types.ts';
import { hostWithSessionAuth } from '../../core/daemon/session-auth.ts';
import { builtinPlugins } from '../../plugins/builtin.ts';

const TYPES = ['stargz', 'overlay', 'native'] as const;
export const DEFAULT_PROXY_SOCKET = '/run/edgebuild/snapshotter.sock';

export const snapshotterCommand: Command = {
  name: 'snapshotter',
  summary: 'Serve a snapshotter over containerd\'s snapshots gRPC API (proxy snapshotter)',
  help: `Usage: edgebuild snapshotter serve [--socket PATH] [--type stargz|overlay|native|auto]

  --socket PATH   unix socket to serve on (default ${DEFAULT_PROXY_SOCKET}, mode 0660)
  --type T        which snapshotter plugin to serve (default: [worker.oci] snapshotter; auto =
                  stargz when it works here, else overlay, else native)
  --config FILE, --root DIR   as for every command: registry settings and credentials for lazy
                  pulls come from the config file and auth plugins; for \`edgebuild daemon
                  --oci-worker-proxy-snapshotter-path\` builds, the daemon also hands over the
                  build's credentials (a client's own) for each call, never stored

containerd uses it with, in its config.toml:
  [proxy_plugins.edgebuild]
    type = "snapshot"
    address = "${DEFAULT_PROXY_SOCKET}"
and \`ctr images pull --snapshotter edgebuild …\`. With --type stargz, layers whose Prepare labels
name their image and digest (ctr-remote image rpull, nerdctl, CRI) are mounted lazily from the
registry. SIGTERM/SIGINT stop serving and unmount lazy layers.`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('snapshotter', args, [
      { name: 'socket', type: 'string' },
      { name: 'type', type: 'string' },
    ]);
    const sub = positionals[0];
    if (sub !== 'serve') throw new UserError(`snapshotter: ${sub ? `unknown subcommand ${JSON.stringify(sub)}` : 'missing subcommand'} (try \`edgebuild snapshotter serve --socket PATH\`)`, 2);
    if (positionals.length > 1) throw new UserError(`snapshotter serve: unexpected argument ${JSON.stringify(positionals[1])}`, 2);
    const socket = (flags.socket as string | undefined) ?? DEFAULT_PROXY_SOCKET;
    const type = (flags.type as string | undefined) ?? ctx.config.worker.oci.snapshotter;
    if (type !== 'auto' && !(TYPES as readonly string[]).includes(type)) throw new UserError(`snapshotter serve: --type ${JSON.stringify(type)}: expected ${TYPES.join(', ')} or auto`, 2);

    // Its own host with the session auth plugin first: a Prepare or View carrying a credential
    // lease from edgebuild's daemon mounts lazy layers with the build's credentials (a client's
    // own, sent for its build), before the ones of this process's config and auth plugins.
    const host = await hostWithSessionAuth({ root: ctx.root, config: ctx.config, configPath: ctx.configPath, log: ctx.debug ? (m) => ctx.err(`debug: ${m}`) : undefined }, builtinPlugins);
    try {
      return await serve(host, type, socket, ctx);
    } finally {
      await host.close();
    }
  },
};

async function serve(host: PluginHost, type: string, socket: string, ctx: CommandContext): Promise<number> {
  let chosen: string | undefined;
  let sn: Snapshotter | undefined;
  for (const id of type === 'auto' ? TYPES : [type]) {
    const st = host.state(`snapshotter.${id}`);
    if (st?.status === 'ok') {
      chosen = id;
      sn = st.instance as Snapshotter;
      break;
    }
    if (type !== 'auto') throw new UserError(`snapshotter serve: snapshotter.${id} is ${st ? `${st.status}${st.reason ? `: ${st.reason}` : ''}` : 'not registered'} (see \`edgebuild plugins ls\`)`);
  }
  if (!sn || !chosen) throw new UserError('snapshotter serve: no snapshotter works here (see `edgebuild plugins ls`)');

  const registry = await clientFromContext({ config: ctx.config, plugins: async () => host, signal: ctx.signal });
  let server;
  try {
    server = await serveSnapshotter(sn, socket, {
      name: `snapshotter.${chosen}`,
      blobSize: (src) => blobSize(registry, src, ctx.signal),
      log: ctx.err,
    });
  } catch (e) {
    throw new UserError(`snapshotter serve: ${(e as Error).message.split('\n')[0]}`);
  }
  ctx.err(`edgebuild snapshotter: serving snapshotter.${chosen} on ${socket}`);
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) resolve();
    ctx.signal.addEventListener('abort', () => resolve(), { once: true });
  });
  ctx.err('edgebuild snapshotter: stopping');
  await server.close();
  return 0;
}
