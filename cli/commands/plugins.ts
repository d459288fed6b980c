// `edgebuild plugins ls`: every plugin with its kind, id, status and reason (like `ctr plugins ls`).
import type { Command } from '../command.ts';
import { UserError } from '../command.ts';
import { parseFlags } from '../args.ts';

export const pluginsCommand: Command = {
  name: 'plugins',
  summary: 'List plugins and their status',
  help: `Usage: edgebuild plugins ls [--json]

Lists every built-in and external plugin: kind, id, status (ok / disabled / error) and the reason.`,
  async run(args, ctx) {
    const { flags, positionals } = parseFlags('plugins', args, [{ name: 'json', type: 'boolean' }]);
    const sub = positionals[0] ?? 'ls';
    if (sub !== 'ls' && sub !== 'list') throw new UserError(`plugins: unknown subcommand ${JSON.stringify(sub)} (try \`edgebuild plugins ls\`)`, 2);
    const host = await ctx.plugins();
    const rows = host.list();
    if (flags.json) {
      ctx.out(JSON.stringify(rows.map(({ instance: _i, ...r }) => r), null, 2));
      return 0;
    }
    const table = [['KIND', 'ID', 'STATUS', 'REASON'], ...rows.map((r) => [r.kind, r.id, r.status, (r.reason ?? '') + (r.external ? ` [${r.external}]` : '')])];
    const widths = [0, 1, 2].map((c) => Math.max(...table.map((row) => row[c].length)));
    for (const row of table) ctx.out(row.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell)).join('  ').trimEnd());
    return 0;
  },
};
