// `edgebuild pull REF [--platform P]`: every blob of one platform into the content store.
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { ContentStore } from '../../core/content/store.ts';
import { ImageStore } from '../../core/content/images.ts';
import { clientFromContext } from '../../core/registry/from-config.ts';
import { pullImage } from '../../core/image/pull.ts';
import { parsePlatform } from '../../core/image/platform.ts';
import { parseReference } from '../../core/registry/reference.ts';
import { TransferProgress, formatBytes } from './transfer-progress.ts';
import { toUserError } from './image-errors.ts';

export const pullCommand: Command = {
  name: 'pull',
  summary: 'Pull an image into the content store',
  help: `Usage: edgebuild pull REF [--platform os/arch[/variant]] [--quiet]

Downloads the manifest, config and every layer of REF for one platform (default: this host's)
into the content store under --root, verifying sizes and digests. Registries, mirrors and TLS
settings come from [registry."host"] in the config; credentials from auth plugins
(docker-config reads ~/.docker/config.json). Prints the manifest digest on stdout.`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('pull', args, [
      { name: 'platform', type: 'string' },
      { name: 'quiet', short: 'q', type: 'boolean' },
    ]);
    if (positionals.length !== 1) throw new UserError('pull: expected one image reference (edgebuild pull REF)', 2);
    const started = Date.now();
    try {
      const ref = parseReference(positionals[0]);
      const platform = typeof flags.platform === 'string' ? parsePlatform(flags.platform) : undefined;
      const client = await clientFromContext(ctx);
      const progress = flags.quiet ? undefined : new TransferProgress(ctx.err, ctx.isTTY);
      const result = await pullImage(ref, {
        client,
        store: new ContentStore(ctx.root),
        images: new ImageStore(ctx.root),
        platform,
        concurrency: ctx.config.worker.oci.maxParallelDownloads,
        signal: ctx.signal,
        onEvent: (e) => {
          if (!progress) return;
          if (e.type === 'resolved') {
            ctx.err(`${e.ref}: resolved to ${e.digest}`);
            for (const b of e.blobs) progress.add(b.digest, b.size);
          } else progress.update(e.digest, e.done, e.total, e.state);
        },
      });
      progress?.finish();
      const secs = (Date.now() - started) / 1000;
      if (!flags.quiet) {
        const rate = result.fetched.bytes / Math.max(secs, 0.001);
        ctx.err(`pulled ${result.record.ref}: ${result.fetched.blobs} blobs, ${formatBytes(result.fetched.bytes)} in ${secs.toFixed(1)}s (${formatBytes(rate)}/s)`);
      }
      ctx.out(result.record.manifest.digest);
      return 0;
    } catch (e) {
      throw toUserError(e, `pull ${positionals[0]}`);
    }
  },
};
