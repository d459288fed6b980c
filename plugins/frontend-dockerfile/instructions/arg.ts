// ARG NAME[=default] …: a build-time variable in scope for the rest of the stage (and stages built
// FROM it). Its value is the build-arg if given, else the default, else the global ARG (predefined
// platform ARGs are global). A value enters the env RUN sees, never the image config.
import type { Instruction } from './types.ts';
import type { Node } from '../parser.ts';
import { quotedWords, type KeyValue } from './syntax.ts';
import { nodeError } from '../parser.ts';
import { addStateEnv, commit, expandIn } from '../state.ts';

export function parseArgs(node: Node, escape: string): KeyValue[] {
  const words = quotedWords(node.rest, escape);
  if (words.length === 0) throw nodeError(node, 'ARG requires at least one argument');
  return words.map((w) => {
    const eq = w.indexOf('=');
    const key = eq < 0 ? w : w.slice(0, eq);
    if (!/^[^\s=$'"]+$/.test(key)) throw nodeError(node, `invalid ARG name ${JSON.stringify(key)}`);
    return eq < 0 ? { key } : { key, value: w.slice(eq + 1) };
  });
}

export const argInstruction: Instruction<KeyValue[]> = {
  flags: {},
  parse: (node, _flags, escape) => parseArgs(node, escape),
  dispatch(args, node, st, ctx) {
    const shown: string[] = [];
    for (const { key, value } of args) {
      let v = ctx.buildArgs.get(key);
      if (v === undefined && value !== undefined) v = expandIn(st, ctx, node, value);
      if (v === undefined) v = ctx.globalArgs.get(key) ?? ctx.predefinedArgs.get(key);
      st.args.set(key, v);
      if (v !== undefined) addStateEnv(st, key, v);
      shown.push(v === undefined ? key : `${key}=${v}`);
    }
    commit(st, 'ARG ' + shown.join(' '), false);
  },
};
