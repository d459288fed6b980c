// ONBUILD <instruction>: stored in the image config; run when a later build uses this image (or
// this stage) as its base. The trigger is checked now so mistakes show at this line.
import type { Instruction } from './types.ts';
import type { Node } from '../parser.ts';

export const onbuildInstruction = (check: (trigger: Node) => void): Instruction<string> => ({
  flags: {},
  parse(node) {
    check(node.trigger!);
    // The stored expression carries heredoc bodies so the trigger re-parses whole (as BuildKit).
    let expression = node.rest;
    for (const h of node.trigger!.heredocs) expression += '\n' + h.content + h.name;
    return expression;
  },
  dispatch(expression, _node, st) {
    // BuildKit records ONBUILD in the config only, with no history entry.
    st.config.OnBuild = [...(st.config.OnBuild ?? []), expression];
  },
});
