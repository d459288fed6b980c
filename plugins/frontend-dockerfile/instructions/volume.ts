// VOLUME ["/a", "/b"] or VOLUME /a /b: mount points recorded in the image config.
import type { Instruction } from './types.ts';
import { jsonOrWords } from './syntax.ts';
import { nodeError } from '../parser.ts';
import { commit, expandIn } from '../state.ts';
import { goList } from '../gofmt.ts';

export const volumeInstruction: Instruction<string[]> = {
  flags: {},
  parse(node) {
    const words = jsonOrWords(node);
    if (words.length === 0) throw nodeError(node, 'VOLUME requires at least one argument');
    return words;
  },
  dispatch(words, node, st, ctx) {
    const vols = words.map((w) => expandIn(st, ctx, node, w).trim());
    if (vols.some((v) => v === '')) throw nodeError(node, 'VOLUME specified can not be an empty string');
    st.config.Volumes = { ...(st.config.Volumes ?? {}) };
    for (const v of vols) st.config.Volumes[v] = {};
    commit(st, `VOLUME ${goList(vols)}`, false);
  },
};
