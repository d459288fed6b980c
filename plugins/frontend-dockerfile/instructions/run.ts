// RUN: one exec vertex on the stage's root. Shell form goes through SHELL; heredocs become the
// script (`RUN <<EOF`), an executable file when they start with "#!", or are handed back to the
// shell as written (`RUN cat <<EOF …`).
import type { Instruction } from './types.ts';
import { jsonOrShell, type CommandForm } from './syntax.ts';
import { nodeError } from '../parser.ts';
import { heredocData, parseHeredocWord } from '../heredoc.ts';
import { commit, DEFAULT_SHELL, runEnv, runHistoryArgs, stepName, type BuildContext, type StageState } from '../state.ts';
import { parseMountSpec, toExecMount, type MountSpec, type RunMount } from './mount.ts';
import type { Node } from '../parser.ts';

interface RunCommand {
  form: CommandForm;
  mounts: MountSpec[];
  network: 'default' | 'none' | 'host';
}

const HEREDOC_DIR = '/dev/pipes/';

/** BuildKit shows a heredoc's first line after the command: "RUN <<EOF (apt-get update...)". */
function heredocSummary(node: Node): string {
  const h = node.heredocs[0];
  const lines = h.content.trim().split('\n');
  return `${node.original} (${lines[0]}${lines.length > 1 ? '...' : ''})`;
}

function argv(cmd: RunCommand, node: Node, st: StageState, ctx: BuildContext, extraMounts: RunMount[]): string[] {
  const shell = st.config.Shell ?? DEFAULT_SHELL;
  if (cmd.form.json) return [...cmd.form.args];
  const line = cmd.form.line;
  if (node.heredocs.length === 0) return [...shell, line];
  const only = parseHeredocWord(line.trim());
  if (only && node.heredocs.length === 1) {
    const h = node.heredocs[0];
    const data = heredocData(h);
    if (!data.startsWith('#!')) return [...shell, data];
    // A script with its own interpreter: written to a file and executed.
    const file = ctx.graph.add(
      { op: 'file', base: null, actions: [{ action: 'mkfile', path: `/${h.name}`, mode: 0o755, data }] },
      '[internal] preparing inline document',
      st.name,
    );
    extraMounts.push({ type: 'bind', target: HEREDOC_DIR, input: file, source: '/', readonly: true, output: false });
    return [...shell, HEREDOC_DIR + h.name];
  }
  let full = line;
  for (const h of node.heredocs) full += '\n' + h.content + h.name;
  return [...shell, full];
}

export const runInstruction: Instruction<RunCommand> = {
  flags: { mount: 'list', network: 'string' },
  parse(node, flags) {
    const form = jsonOrShell(node);
    if (form.json ? form.args.length === 0 : form.line === '') throw nodeError(node, 'RUN requires a command');
    const network = (flags.string('network') ?? 'default').toLowerCase();
    if (network !== 'default' && network !== 'none' && network !== 'host') {
      throw nodeError(node, `network mode ${JSON.stringify(network)} not supported (default, none or host)`);
    }
    return { form, mounts: flags.list('mount').map((m) => parseMountSpec(node, m)), network };
  },
  async dispatch(cmd, node, st, ctx) {
    const single = !cmd.form.json && node.heredocs.length === 1 && parseHeredocWord(cmd.form.line.trim()) !== null;
    const secretEnvs = cmd.mounts.flatMap((m) => (m.type === 'secret' && m.env ? [m.env] : []));
    const name = stepName(st, ctx, node, single ? heredocSummary(node) : node.original, secretEnvs);
    const extra: RunMount[] = [];
    const args = argv(cmd, node, st, ctx, extra);
    const mounts: RunMount[] = [{ type: 'bind', target: '/', input: st.ref ?? undefined, output: true }];
    for (let i = 0; i < cmd.mounts.length; i++) mounts.push(await toExecMount(cmd.mounts[i], i, node, st, ctx));
    mounts.push(...extra);
    st.ref = ctx.graph.add(
      {
        op: 'exec',
        args,
        env: runEnv(st, ctx),
        cwd: st.config.WorkingDir || '/',
        user: st.config.User || '0:0',
        network: cmd.network,
        mounts,
      },
      name,
      st.name,
    );
    commit(st, `RUN ${[...runHistoryArgs(st), ...args].join(' ')}`, true);
  },
};
