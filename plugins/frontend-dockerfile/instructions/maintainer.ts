// MAINTAINER name (deprecated): recorded as the "maintainer" label, since the runtime config has
// no author field.
import type { Instruction } from './types.ts';
import { nodeError } from '../parser.ts';
import { commit, expandIn } from '../state.ts';

export const maintainerInstruction: Instruction<string> = {
  flags: {},
  parse(node) {
    if (node.rest === '') throw nodeError(node, 'MAINTAINER requires exactly one argument');
    return node.rest;
  },
  dispatch(text, node, st, ctx) {
    const who = expandIn(st, ctx, node, text);
    st.config.Labels = { ...(st.config.Labels ?? {}), maintainer: who };
    commit(st, `MAINTAINER ${who}`, false);
  },
};
