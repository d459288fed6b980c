// One file per command under cli/commands/. A command is a plain object; main.ts parses global
// flags, builds the context lazily (plugins are initialised only when a command asks) and runs it.
import type { PluginHost } from '../core/plugin/host.ts';
import type { EdgebuildConfig } from '../core/config/schema.ts';

export interface CommandContext {
  /** State directory (--root / EDGEBUILD_ROOT / default). */
  root: string;
  config: EdgebuildConfig;
  configPath?: string;
  debug: boolean;
  /** --addr: a daemon to talk to instead of building in-process. */
  addr?: string;
  /** Initialises plugins on first call and returns the host. */
  plugins(): Promise<PluginHost>;
  out: (line: string) => void; // stdout, one line
  err: (line: string) => void; // stderr, one line
  isTTY: boolean;
  /** Aborted on SIGINT/SIGTERM; commands clean up and return. */
  signal: AbortSignal;
}

export interface Command {
  name: string;
  summary: string;
  /** Full --help text (usage line first). */
  help: string;
  run(args: string[], ctx: CommandContext): Promise<number>;
}

/** A user-facing failure: printed as one line `edgebuild: <message>`, exit code 1 (or given). */
export class UserError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'UserError';
  }
}
