// `edgebuild inspect REF [--json] [--platform P]`: what a registry holds for REF, without pulling.
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { clientFromContext } from '../../core/registry/from-config.ts';
import { resolveImage, checkConfigPlatform } from '../../core/image/resolve.ts';
import { parseImageConfig } from '../../core/image/config.ts';
import { estargzInfo } from '../../core/image/estargz.ts';
import { formatPlatform, hostPlatform, parsePlatform } from '../../core/image/platform.ts';
import { familiarName, formatReference, parseReference } from '../../core/registry/reference.ts';
import { formatBytes } from './transfer-progress.ts';
import { toUserError } from './image-errors.ts';

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show an image\'s manifest, config and layers from its registry',
  help: `Usage: edgebuild inspect REF [--json] [--platform os/arch[/variant]]

Fetches REF's manifest (for an index: the entry for --platform, default this host's) and config
and prints the manifest digest, media type, platform, config summary and every layer with its
digest, size, media type, annotations and whether it is eStargz (lazily pullable).`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('inspect', args, [
      { name: 'json', type: 'boolean' },
      { name: 'platform', type: 'string' },
    ]);
    if (positionals.length !== 1) throw new UserError('inspect: expected one image reference (edgebuild inspect REF)', 2);
    let name: string | undefined;
    try {
      const ref = parseReference(positionals[0]);
      name = familiarName(ref);
      const explicit = typeof flags.platform === 'string';
      const want = explicit ? parsePlatform(flags.platform as string) : hostPlatform();
      const client = await clientFromContext(ctx);
      const img = await resolveImage(client, ref, want);
      const configBytes = await client.fetchBlob(ref, img.manifest.config.digest);
      const config = parseImageConfig(configBytes, img.manifest.config.digest);
      const platform = img.index ? img.platform : checkConfigPlatform(name, want, config, explicit);
      const c = config.config ?? {};
      const layers = img.manifest.layers.map((l) => {
        const e = estargzInfo(l);
        return { digest: l.digest, size: l.size, mediaType: l.mediaType, annotations: l.annotations ?? {}, estargz: e ? { tocDigest: e.tocDigest, uncompressedSize: e.uncompressedSize } : null };
      });
      const info = {
        name: formatReference(ref),
        digest: img.manifestDesc.digest,
        mediaType: img.manifestDesc.mediaType,
        index: img.index ? { digest: img.index.desc.digest, mediaType: img.index.desc.mediaType, platforms: img.index.index.manifests.filter((m) => m.platform).map((m) => formatPlatform(m.platform!)) } : null,
        platform: formatPlatform(platform),
        config: { digest: img.manifest.config.digest, created: config.created ?? null, env: c.Env ?? [], cmd: c.Cmd ?? null, entrypoint: c.Entrypoint ?? null, workingDir: c.WorkingDir ?? '', user: c.User ?? '', labels: c.Labels ?? {} },
        layers,
        size: img.manifest.layers.reduce((a, l) => a + l.size, 0),
      };
      if (flags.json) {
        ctx.out(JSON.stringify(info, null, 2));
        return 0;
      }
      const row = (k: string, val: string) => ctx.out(`${(k + ':').padEnd(12)}${val}`);
      row('Name', info.name);
      row('Digest', info.digest);
      row('MediaType', info.mediaType);
      if (info.index) row('Index', `${info.index.digest} (${info.index.platforms.join(', ')})`);
      row('Platform', info.platform);
      row('Created', info.config.created ?? '');
      row('User', info.config.user);
      row('WorkingDir', info.config.workingDir);
      row('Entrypoint', JSON.stringify(info.config.entrypoint));
      row('Cmd', JSON.stringify(info.config.cmd));
      row('Env', info.config.env.length ? info.config.env[0] : '');
      for (const e of info.config.env.slice(1)) ctx.out(' '.repeat(12) + e);
      row('Size', `${formatBytes(info.size)} in ${layers.length} layers`);
      ctx.out('Layers:');
      for (const l of layers) {
        ctx.out(`  ${l.digest}  ${formatBytes(l.size)}  ${l.mediaType}`);
        ctx.out(`    estargz: ${l.estargz ? `yes (toc ${l.estargz.tocDigest})` : 'no'}`);
        for (const [k, val] of Object.entries(l.annotations)) ctx.out(`    ${k}=${val}`);
      }
      return 0;
    } catch (e) {
      throw toUserError(e, `inspect ${name ?? positionals[0]}`, name);
    }
  },
};
