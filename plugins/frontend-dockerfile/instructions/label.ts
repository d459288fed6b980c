// LABEL k=v … (or legacy LABEL k v): image labels, keys and values expanded.
import type { Instruction } from './types.ts';
import { nameValues, type KeyValue } from './syntax.ts';
import { commit, expandIn } from '../state.ts';

export const labelInstruction: Instruction<KeyValue[]> = {
  flags: {},
  parse: (node, _flags, escape) => nameValues(node, escape),
  dispatch(pairs, node, st, ctx) {
    const expanded = pairs.map((kv) => ({ key: expandIn(st, ctx, node, kv.key), value: expandIn(st, ctx, node, kv.value ?? '') }));
    st.config.Labels = { ...(st.config.Labels ?? {}) };
    for (const { key, value } of expanded) st.config.Labels[key] = value;
    commit(st, 'LABEL ' + expanded.map((kv) => `${kv.key}=${kv.value}`).join(' '), false);
  },
};
