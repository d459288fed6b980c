// USER name|uid[:group|gid]: the user later RUNs and the container run as.
import type { Instruction } from './types.ts';
import { nodeError } from '../parser.ts';
import { commit, expandIn } from '../state.ts';

export const userInstruction: Instruction<string> = {
  flags: {},
  parse(node) {
    if (node.rest === '') throw nodeError(node, 'USER requires exactly one argument');
    return node.rest;
  },
  dispatch(text, node, st, ctx) {
    const user = expandIn(st, ctx, node, text);
    st.config.User = user;
    commit(st, `USER ${user}`, false);
  },
};
