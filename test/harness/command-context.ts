// A CommandContext for calling commands directly in tests: captured output, a temp root, a
// config (registry table) and auth plugins built from the registrations given.
import * as v from 'valibot';
import type { CommandContext } from '../../cli/command.ts';
import { EdgebuildConfigSchema } from '../../core/config/schema.ts';
import type { CredentialSource } from '../../core/registry/credentials.ts';
import type { PluginHost } from '../../core/plugin/host.ts';
import { tempDir } from './temp-dir.ts';

export interface TestContext extends CommandContext {
  stdout: string[];
  stderr: string[];
}

export function testContext(opts: { root?: string; registry?: Record<string, unknown>; credentials?: CredentialSource[]; tty?: boolean } = {}): TestContext {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const config = v.parse(EdgebuildConfigSchema, { registry: opts.registry ?? {} });
  const auth = (opts.credentials ?? []).map((instance, i) => ({ id: `test${i}`, instance }));
  const host = { all: (kind: string) => (kind === 'auth' ? auth : []) } as unknown as PluginHost;
  return {
    root: opts.root ?? tempDir('eb-root-'),
    config,
    debug: false,
    plugins: async () => host,
    out: (l) => void stdout.push(l),
    err: (l) => void stderr.push(l),
    isTTY: opts.tty ?? false,
    signal: new AbortController().signal,
    stdout,
    stderr,
  };
}
