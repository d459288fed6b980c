#!/usr/bin/env bun
// Entry point of the edgebuild binary: global flags (before or after the command), config,
// lazy plugin host, dispatch to one command, one-line errors.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, ConfigError } from '../core/config/load.ts';
import { PluginHost } from '../core/plugin/host.ts';
import { builtinPlugins } from '../plugins/builtin.ts';
import { UserError, type CommandContext } from './command.ts';
import { commands } from './commands/index.ts';
import { formatPhases, phase } from '../core/progress/phases.ts';
import pkg from '../package.json' with { type: 'json' };

export const VERSION: string = pkg.version;

interface GlobalFlags {
  root?: string;
  config?: string;
  debug: boolean;
  addr?: string;
  help: boolean;
  version: boolean;
}

const GLOBAL_VALUE_FLAGS = ['root', 'config', 'addr'] as const;

/** Removes global flags from anywhere before `--`, so `edgebuild --root D pull R` = `pull --root D R`. */
export function extractGlobalFlags(argv: string[]): { globals: GlobalFlags; rest: string[] } {
  const globals: GlobalFlags = { debug: false, help: false, version: false };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const [name, inline] = a.startsWith('--') ? [a.slice(2).split('=')[0], a.includes('=') ? a.slice(a.indexOf('=') + 1) : undefined] : [undefined, undefined];
    if (name && (GLOBAL_VALUE_FLAGS as readonly string[]).includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UserError(`flag --${name} needs a value`, 2);
      globals[name as (typeof GLOBAL_VALUE_FLAGS)[number]] = value;
    } else if (a === '--debug') globals.debug = true;
    else if (a === '--help' || a === '-h') globals.help = true;
    else if (a === '--version' || a === '-v') globals.version = true;
    else rest.push(a);
  }
  return { globals, rest };
}

export function defaultRoot(): string {
  if (process.env.EDGEBUILD_ROOT) return process.env.EDGEBUILD_ROOT;
  if (process.getuid?.() === 0) return '/var/lib/edgebuild';
  const data = process.env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(data, 'edgebuild');
}

function usage(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `edgebuild ${VERSION} — container image builder with lazy pulling of eStargz images`,
    '',
    'Usage: edgebuild [global flags] <command> [flags] [args]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Global flags (before or after the command):',
    '  --root DIR      state directory (env EDGEBUILD_ROOT; default /var/lib/edgebuild as root,',
    '                  $XDG_DATA_HOME/edgebuild otherwise)',
    '  --config FILE   config file, TOML (env EDGEBUILD_CONFIG; default /etc/edgebuild/edgebuild.toml)',
    '  --addr ADDR     talk to a daemon (unix:///path or tcp://host:port) instead of building in-process',
    '  --debug         verbose logs and stack traces',
    '  --version, -v   print the version',
    '  --help, -h      this help; `edgebuild <command> --help` for a command',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  phase('main');
  const out = (l: string) => process.stdout.write(l + '\n');
  const err = (l: string) => process.stderr.write(l + '\n');
  let debug = argv.includes('--debug');
  let host: PluginHost | undefined;
  const abort = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (abort.signal.aborted) process.exit(130);
    err(`edgebuild: ${sig} received, cleaning up`);
    abort.abort(new UserError(`interrupted by ${sig}`, 130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const { globals, rest } = extractGlobalFlags(argv);
    debug = globals.debug;
    if (globals.version) {
      out(`edgebuild ${VERSION} (bun ${Bun.version})`);
      return 0;
    }
    const name = rest[0];
    const command = commands.find((c) => c.name === name);
    if (!name || (globals.help && !command)) {
      out(usage());
      return name || globals.help ? 0 : 2;
    }
    if (!command) throw new UserError(`unknown command ${JSON.stringify(name)} (see \`edgebuild --help\`)`, 2);
    if (globals.help) {
      out(command.help);
      return 0;
    }
    const loaded = loadConfig(globals.config ?? process.env.EDGEBUILD_CONFIG);
    phase('config');
    for (const w of loaded.warnings) err(`edgebuild: warning: ${w}`);
    const root = globals.root ?? process.env.EDGEBUILD_ROOT ?? loaded.config.root ?? defaultRoot();
    const ctx: CommandContext = {
      root,
      config: loaded.config,
      configPath: loaded.path,
      debug,
      addr: globals.addr,
      out,
      err,
      isTTY: Boolean(process.stderr.isTTY),
      signal: abort.signal,
      plugins: async () => {
        if (!host) {
          host = new PluginHost({ root, config: loaded.config, configPath: loaded.path, log: debug ? (m) => err(`debug: ${m}`) : undefined });
          for (const reg of builtinPlugins) host.register(reg);
          await host.loadExternal();
          await host.init();
          phase('plugins');
        }
        return host;
      },
    };
    return await command.run(rest.slice(1), ctx);
  } catch (e) {
    const error = e as Error;
    if (error instanceof UserError || error instanceof ConfigError) {
      err(`edgebuild: ${error.message}`);
      if (debug) err(error.stack ?? '');
      return error instanceof UserError ? error.exitCode : 1;
    }
    err(`edgebuild: ${error?.message?.split('\n')[0] ?? String(e)}`);
    if (debug) err(error?.stack ?? '');
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await host?.close();
    if (process.env.EDGEBUILD_PHASES) {
      phase('closed');
      for (const l of formatPhases()) err(l);
    }
  }
}

if (import.meta.main) {
  const code = await main(process.argv.slice(2));
  process.exit(code);
}
