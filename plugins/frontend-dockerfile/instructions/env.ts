// ENV K=V … (or legacy ENV K V): sets image env; every value is expanded with the env as it was
// before this instruction, so `ENV A=1 B=$A` gives B the old A.
import type { Instruction } from './types.ts';
import { nameValues, type KeyValue } from './syntax.ts';
import { addStateEnv, commit, expandIn, setEnv } from '../state.ts';

export const envInstruction: Instruction<KeyValue[]> = {
  flags: {},
  parse: (node, _flags, escape) => nameValues(node, escape),
  dispatch(pairs, node, st, ctx) {
    const expanded = pairs.map((kv) => ({ key: expandIn(st, ctx, node, kv.key), value: expandIn(st, ctx, node, kv.value ?? '') }));
    for (const { key, value } of expanded) {
      st.config.Env = setEnv(st.config.Env, key, value);
      addStateEnv(st, key, value);
    }
    commit(st, 'ENV ' + expanded.map((kv) => `${kv.key}=${kv.value}`).join(' '), false);
  },
};
