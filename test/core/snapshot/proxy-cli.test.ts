import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as v from 'valibot';
import { snapshotterCommand } from '../../../cli/commands/snapshotter.ts';
import type { CommandContext } from '../../../cli/command.ts';
import { EdgebuildConfigSchema } from '../../../core/config/schema.ts';
import { PluginHost } from '../../../core/plugin/host.ts';
import { ProxySnapshotter } from '../../../core/snapshot/proxy-client.ts';
import { builtinPlugins } from '../../../plugins/builtin.ts';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function context(root: string, abort: AbortController, lines: string[]): CommandContext {
  const config = v.parse(EdgebuildConfigSchema, {});
  let host: PluginHost | undefined;
  return {
    root,
    config,
    debug: false,
    isTTY: false,
    signal: abort.signal,
    out: (l) => void lines.push(l),
    err: (l) => void lines.push(l),
    plugins: async () => {
      if (!host) {
        host = new PluginHost({ root, config });
        for (const r of builtinPlugins) host.register(r);
        await host.init();
      }
      return host;
    },
  };
}

describe('edgebuild snapshotter serve', () => {
  test('serves the native snapshotter until aborted, then removes its socket [slow]', async () => {
    const root = mkdtempSync(join(tmpdir(), 'eb-sn-cli-'));
    dirs.push(root);
    const socket = join(root, 'run', 'sn.sock');
    const abort = new AbortController();
    const lines: string[] = [];
    const done = snapshotterCommand.run(['serve', '--socket', socket, '--type', 'native'], context(root, abort, lines));
    for (let i = 0; i < 100 && !lines.some((l) => l.includes('serving')); i++) await Bun.sleep(50);
    expect(lines).toContain(`edgebuild snapshotter: serving snapshotter.native on ${socket}`);
    const client = new ProxySnapshotter(socket);
    await client.prepare('a');
    await client.commit('a-done', 'a');
    expect((await client.stat('a-done'))?.kind).toBe('committed');
    await client.remove('a-done');
    await client.close();
    abort.abort();
    expect(await done).toBe(0);
    expect(existsSync(socket)).toBe(false);
  });

  test('bad subcommand and type are usage errors', async () => {
    const ctx = context(tmpdir(), new AbortController(), []);
    await expect(snapshotterCommand.run(['run'], ctx)).rejects.toThrow('unknown subcommand "run"');
    await expect(snapshotterCommand.run(['serve', '--type', 'zfs'], ctx)).rejects.toThrow('--type "zfs": expected stargz, overlay, native or auto');
  });
});
