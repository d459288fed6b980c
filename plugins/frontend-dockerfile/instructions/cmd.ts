// CMD and ENTRYPOINT. Shell form runs through SHELL; ENTRYPOINT drops a CMD inherited from the base
// (a CMD set earlier in the same stage is kept), as Docker does.
import type { Instruction } from './types.ts';
import { jsonOrShell, type CommandForm } from './syntax.ts';
import { commit, DEFAULT_SHELL, type StageState } from '../state.ts';
import { goQuoteList } from '../gofmt.ts';

function argv(form: CommandForm, st: StageState): string[] {
  if (form.json) return [...form.args];
  if (form.line === '') return [];
  return [...(st.config.Shell ?? DEFAULT_SHELL), form.line];
}

export const cmdInstruction: Instruction<CommandForm> = {
  flags: {},
  parse: (node) => jsonOrShell(node),
  dispatch(form, _node, st) {
    const args = argv(form, st);
    st.config.Cmd = args;
    st.cmdSet = true;
    commit(st, `CMD ${goQuoteList(args)}`, false);
  },
};

export const entrypointInstruction: Instruction<CommandForm> = {
  flags: {},
  parse: (node) => jsonOrShell(node),
  dispatch(form, _node, st) {
    const args = argv(form, st);
    st.config.Entrypoint = args;
    if (!st.cmdSet) delete st.config.Cmd;
    commit(st, `ENTRYPOINT ${goQuoteList(args)}`, false);
  },
};
