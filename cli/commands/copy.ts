// `edgebuild copy SRC DST`: skopeo-style copy between docker://REF and oci:DIR[:TAG].
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { clientFromContext } from '../../core/registry/from-config.ts';
import { copyImage } from '../../core/image/copy.ts';
import { parsePlatform } from '../../core/image/platform.ts';
import { parseTransport, dockerSource, dockerDestination, ociSource, ociDestination, type Transport, type ImageSource, type ImageDestination } from '../../core/image/transports.ts';
import type { RegistryClient } from '../../core/registry/client.ts';
import { shortDigest } from '../../core/content/digest.ts';
import { formatBytes } from './transfer-progress.ts';
import { toUserError } from './image-errors.ts';

export const copyCommand: Command = {
  name: 'copy',
  summary: 'Copy an image between registries and OCI layout directories',
  help: `Usage: edgebuild copy [--all] [--platform os/arch[/variant]] SRC DST

SRC and DST are docker://REF (a registry) or oci:DIR[:TAG] (an OCI image layout directory).
Manifests and blobs are copied byte for byte. For an index, only the manifest of --platform
(default: this host's) is copied unless --all is given. Between repositories of one registry,
blobs are mounted instead of uploaded. Prints the digest of what DST now names.`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('copy', args, [
      { name: 'all', short: 'a', type: 'boolean' },
      { name: 'platform', type: 'string' },
      { name: 'quiet', short: 'q', type: 'boolean' },
    ]);
    if (positionals.length !== 2) throw new UserError('copy: expected SRC and DST (edgebuild copy docker://REF oci:DIR:TAG)', 2);
    const label = `copy ${positionals[0]} to ${positionals[1]}`;
    try {
      const src = parseTransport(positionals[0]);
      const dst = parseTransport(positionals[1]);
      const platform = typeof flags.platform === 'string' ? parsePlatform(flags.platform) : undefined;
      let client: RegistryClient | undefined;
      const needClient = async () => (client ??= await clientFromContext(ctx));
      const source: ImageSource = src.kind === 'docker' ? dockerSource(await needClient(), src.ref) : ociSource(src.dir, src.tag);
      const dest: ImageDestination = dst.kind === 'docker' ? dockerDestination(await needClient(), dst.ref) : ociDestination(dst.dir, dst.tag);
      if (sameLayout(src, dst)) throw new UserError(`${label}: source and destination are the same`);
      const result = await copyImage(source, dest, {
        all: Boolean(flags.all),
        platform,
        concurrency: ctx.config.worker.oci.maxParallelDownloads,
        onBlob: (d, how) => {
          if (!flags.quiet) ctx.err(`${shortDigest(d.digest)}  ${how === 'copied' ? 'copied' : how === 'mounted' ? 'mounted from source repository' : 'already present'} (${formatBytes(d.size)})`);
        },
      });
      if (!flags.quiet) ctx.err(`copied ${source.name} to ${dest.name}: ${result.blobs.copied} copied, ${result.blobs.mounted} mounted, ${result.blobs.exists} already present`);
      ctx.out(result.digest);
      return 0;
    } catch (e) {
      throw toUserError(e, label);
    }
  },
};

function sameLayout(a: Transport, b: Transport): boolean {
  if (a.kind === 'oci' && b.kind === 'oci') return a.dir === b.dir && a.tag === b.tag;
  if (a.kind === 'docker' && b.kind === 'docker') return a.ref.registry === b.ref.registry && a.ref.repository === b.ref.repository && a.ref.tag === b.ref.tag && a.ref.digest === b.ref.digest;
  return false;
}
