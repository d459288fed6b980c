// SHELL ["exe", "args"…]: the shell later shell-form RUN/CMD/ENTRYPOINT run through.
import type { Instruction } from './types.ts';
import { jsonOrShell } from './syntax.ts';
import { nodeError } from '../parser.ts';
import { commit } from '../state.ts';
import { goList } from '../gofmt.ts';

export const shellInstruction: Instruction<string[]> = {
  flags: {},
  parse(node) {
    const form = jsonOrShell(node);
    if (!form.json) throw nodeError(node, 'SHELL requires the arguments to be in JSON form');
    if (form.args.length === 0) throw nodeError(node, 'SHELL requires at least one argument');
    return form.args;
  },
  dispatch(shell, _node, st) {
    st.config.Shell = [...shell];
    commit(st, `SHELL ${goList(shell)}`, false);
  },
};
