// `edgebuild du` and `edgebuild prune`: build cache (records + snapshots), content store, and
// other plugin data under the root, like `buildctl du` / `buildctl prune`.
import type { Command, CommandContext } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';
import { cacheUsage, lazyUsage, parseSize, pruneCache } from '../../core/gc/usage.ts';
import { chooseSnapshotter } from '../../core/worker/local.ts';
import type { Snapshotter } from '../../core/snapshot/types.ts';
import { ContentStore } from '../../core/content/store.ts';
import { formatBytes } from '../../core/progress/plain.ts';

async function snapshotter(ctx: CommandContext, wanted?: string): Promise<Snapshotter> {
  const host = await ctx.plugins();
  const id = chooseSnapshotter(host, wanted ?? ctx.config.worker.oci.snapshotter);
  return host.get<Snapshotter>(`snapshotter.${id}`);
}

export const duCommand: Command = {
  name: 'du',
  summary: 'Show disk usage of the build cache and content store',
  help: `Usage: edgebuild du [--verbose] [--json] [--snapshotter ID]

Lists build cache entries (cache key, size, last use, the step that made it), image layer
snapshots, lazily pulled data (stargz chunk caches) and the content store, with totals.`,
  async run(args, ctx) {
    const { flags } = parseFlags('du', args, [
      { name: 'verbose', type: 'boolean' },
      { name: 'json', type: 'boolean' },
      { name: 'snapshotter', type: 'string' },
    ]);
    const rows = [...(await cacheUsage(ctx.root, await snapshotter(ctx, flags.snapshotter as string | undefined))), ...lazyUsage(ctx.root)];
    const content = await new ContentStore(ctx.root).usage();
    if (flags.json) {
      ctx.out(JSON.stringify({ rows, content }, null, 2));
      return 0;
    }
    const table = [['ID', 'KIND', 'SIZE', 'LAST ACCESSED', 'DESCRIPTION']];
    for (const r of rows.sort((a, b) => b.size - a.size)) table.push([r.id, r.kind, formatBytes(r.size), r.lastUsed?.slice(0, 19) ?? '', r.description]);
    const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
    if (flags.verbose || rows.length <= 40) for (const row of table) ctx.out(row.map((cell, c) => (c < 4 ? cell.padEnd(widths[c]) : cell)).join('  '));
    const cache = rows.filter((r) => r.kind === 'cache').reduce((n, r) => n + r.size, 0);
    const layers = rows.filter((r) => r.kind !== 'cache' && r.kind !== 'lazy').reduce((n, r) => n + r.size, 0);
    const lazy = rows.filter((r) => r.kind === 'lazy').reduce((n, r) => n + r.size, 0);
    ctx.out(`Build cache:   ${formatBytes(cache)}`);
    ctx.out(`Layer data:    ${formatBytes(layers)}`);
    ctx.out(`Lazy data:     ${formatBytes(lazy)}`);
    ctx.out(`Content store: ${formatBytes(content.bytes)} in ${content.blobs} blobs`);
    ctx.out(`Total:         ${formatBytes(cache + layers + lazy + content.bytes)}`);
    return 0;
  },
};

export const pruneCommand: Command = {
  name: 'prune',
  summary: 'Remove build cache',
  help: `Usage: edgebuild prune [--all] [--keep-storage SIZE] [--snapshotter ID]

Removes build cache entries, least recently used first, children before parents.
  --all                also remove image layer snapshots and every content store blob
  --keep-storage SIZE  keep up to SIZE of build cache (e.g. 10GB, 512MiB)`,
  async run(args, ctx) {
    const { flags } = parseFlags('prune', args, [
      { name: 'all', type: 'boolean' },
      { name: 'keep-storage', type: 'string' },
      { name: 'snapshotter', type: 'string' },
    ]);
    let keep: number | undefined;
    if (flags['keep-storage'] !== undefined) {
      try {
        keep = parseSize(flags['keep-storage'] as string);
      } catch (e) {
        throw new UserError(`prune: --keep-storage: ${(e as Error).message}`, 2);
      }
    }
    const sn = await snapshotter(ctx, flags.snapshotter as string | undefined);
    const { removed, freed } = await pruneCache(ctx.root, sn, { all: Boolean(flags.all), keepStorage: keep });
    let blobs = 0;
    let blobBytes = 0;
    if (flags.all && keep === undefined) {
      const store = new ContentStore(ctx.root);
      for await (const b of store.walk()) {
        await store.delete(b.digest);
        blobs++;
        blobBytes += b.size;
      }
    }
    ctx.out(`Removed ${removed} cache entries (${formatBytes(freed)})${blobs ? ` and ${blobs} blobs (${formatBytes(blobBytes)})` : ''}`);
    return 0;
  },
};
