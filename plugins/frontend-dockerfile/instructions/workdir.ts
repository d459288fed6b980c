// WORKDIR path: relative to the previous WORKDIR; the directory is created (owned by USER when set).
import type { Instruction } from './types.ts';
import { nodeError } from '../parser.ts';
import { commit, expandIn, joinPath, resolveInWorkdir, stepName } from '../state.ts';
import { chownFromUser } from './chown.ts';

export const workdirInstruction: Instruction<string> = {
  flags: {},
  parse(node) {
    if (node.rest === '') throw nodeError(node, 'WORKDIR requires exactly one argument');
    return node.rest;
  },
  dispatch(path, node, st, ctx) {
    const p = expandIn(st, ctx, node, path);
    if (p === '') throw nodeError(node, 'WORKDIR path expands to an empty string');
    const wd = joinPath(resolveInWorkdir(st, p));
    st.config.WorkingDir = wd;
    if (wd === '/') {
      commit(st, `WORKDIR ${wd}`, false);
      return;
    }
    const chown = st.config.User ? chownFromUser(st.config.User) : undefined;
    st.ref = ctx.graph.add(
      { op: 'file', base: st.ref, actions: [{ action: 'mkdir', path: wd, mode: 0o755, makeParents: true, chown }] },
      stepName(st, ctx, node),
      st.name,
    );
    commit(st, `WORKDIR ${wd}`, true, false);
  },
};
