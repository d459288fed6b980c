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
import type { RegistryClient } from '../../core/registry/client.ts';
import type { Reference } from '../../core/registry/reference.ts';
import type { Descriptor } from '../../core/image/schemas.ts';
import { openEstargz, verifyBlob, type RandomAccessSource } from '../../plugins/snapshotter-stargz/estargz/index.ts';

interface EstargzDetails {
  format: string;
  entries: number;
  prioritizedFiles: string[];
  landmark: 'prefetch' | 'no-prefetch' | 'none';
  /** Set with --verify: "pass", or the failure. */
  verify?: { ok: true; chunks: number; files: number } | { ok: false; error: string };
}

/** A blob on the registry read by HTTP Range requests (only the TOC and what is verified is fetched). */
function rangeSource(client: RegistryClient, ref: Reference, desc: Descriptor): RandomAccessSource {
  return {
    size: desc.size,
    readAt: async (offset, length) => (length === 0 ? new Uint8Array() : (await client.fetchBlobRange(ref, desc.digest, [{ offset, length }]))[0]),
  };
}

/**
 * TOC facts of an eStargz layer; with `verify`, every chunk, the blob digest and the diffID are
 * checked. A layer whose TOC cannot be read is reported (and fails --verify), not thrown.
 */
async function estargzDetails(client: RegistryClient, ref: Reference, desc: Descriptor, tocDigest: string, diffID: string | undefined, verify: boolean): Promise<EstargzDetails | { error: string }> {
  const source = rangeSource(client, ref, desc);
  let out: EstargzDetails;
  try {
    const reader = await openEstargz(source, { layerDigest: desc.digest, expectedTocDigest: tocDigest });
    const mark = reader.landmark();
    out = { format: reader.format, entries: reader.entries.length, prioritizedFiles: mark.prioritizedFiles, landmark: mark.kind };
  } catch (e) {
    return { error: (e as Error).message.split('\n')[0] };
  }
  if (verify) {
    try {
      const r = await verifyBlob(source, { layerDigest: desc.digest, expectedTocDigest: tocDigest, expectedBlobDigest: desc.digest, expectedDiffID: diffID });
      out.verify = { ok: true, chunks: r.chunks, files: r.files };
    } catch (e) {
      out.verify = { ok: false, error: (e as Error).message.split('\n')[0] };
    }
  }
  return out;
}

export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'Show an image\'s manifest, config and layers from its registry',
  help: `Usage: edgebuild inspect REF [--json] [--platform os/arch[/variant]] [--verbose] [--verify]

Fetches REF's manifest (for an index: the entry for --platform, default this host's) and config
and prints the manifest digest, media type, platform, config summary and every layer with its
digest, size, media type, annotations and whether it is eStargz (lazily pullable). For an eStargz
layer it reads the TOC (by byte range) and shows its digest, entry count and prioritized files
(listed with --verbose); --verify reads every chunk and checks chunk digests, the blob digest and
the diffID against the config, and says pass or fail per layer (exit code 1 on any failure).`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('inspect', args, [
      { name: 'json', type: 'boolean' },
      { name: 'platform', type: 'string' },
      { name: 'verbose', type: 'boolean' },
      { name: 'verify', type: 'boolean' },
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
      const diffIDs = config.rootfs?.diff_ids ?? [];
      const layers = [];
      for (const [i, l] of img.manifest.layers.entries()) {
        const e = estargzInfo(l);
        const details = e ? await estargzDetails(client, ref, l, e.tocDigest, diffIDs[i], Boolean(flags.verify)) : undefined;
        layers.push({ digest: l.digest, size: l.size, mediaType: l.mediaType, annotations: l.annotations ?? {}, estargz: e ? { tocDigest: e.tocDigest, uncompressedSize: e.uncompressedSize } : null, ...(details ? { toc: details } : {}) });
      }
      const failed = flags.verify ? layers.filter((l) => l.toc && ('error' in l.toc || (l.toc.verify && !l.toc.verify.ok))).length : 0;
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
        return failed ? 1 : 0;
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
        const z = l.toc;
        if (z && 'error' in z) ctx.out(`    toc: cannot read: ${z.error}${flags.verify ? ' (verify: FAIL)' : ''}`);
        else if (z) {
          const prio = z.landmark === 'prefetch' ? `${z.prioritizedFiles.length} prioritized files` : z.landmark === 'no-prefetch' ? 'no prioritized files (.no.prefetch.landmark)' : 'no landmark';
          ctx.out(`    toc: ${z.entries} entries, ${prio}${z.format !== 'estargz' ? ` (${z.format})` : ''}`);
          if (flags.verbose) for (const f of z.prioritizedFiles) ctx.out(`      ${f}`);
          if (z.verify) ctx.out(z.verify.ok ? `    verify: pass (${z.verify.files} files, ${z.verify.chunks} chunks)` : `    verify: FAIL: ${z.verify.error}`);
        }
        for (const [k, val] of Object.entries(l.annotations)) ctx.out(`    ${k}=${val}`);
      }
      if (flags.verify && !layers.some((l) => l.toc)) ctx.err('inspect: --verify: no eStargz layers to verify');
      return failed ? 1 : 0;
    } catch (e) {
      throw toUserError(e, `inspect ${name ?? positionals[0]}`, name);
    }
  },
};
