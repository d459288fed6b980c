// EXPOSE port[/proto] …: ports as "80/tcp" keys (tcp when no protocol; ranges expand).
import type { Instruction } from './types.ts';
import { whitespaceWords } from './syntax.ts';
import { nodeError, type Node } from '../parser.ts';
import { commit, expandIn } from '../state.ts';
import { goSetMap } from '../gofmt.ts';

export function parsePortSpec(node: Node, spec: string): string[] {
  const m = /^(\d+)(?:-(\d+))?(?:\/([a-zA-Z]+))?$/.exec(spec);
  if (!m) throw nodeError(node, `invalid containerPort: ${spec}`);
  const proto = (m[3] ?? 'tcp').toLowerCase();
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw nodeError(node, `invalid proto: ${m[3]}`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || to < from) throw nodeError(node, `invalid port range: ${spec}`);
  const out: string[] = [];
  for (let p = from; p <= to; p++) out.push(`${p}/${proto}`);
  return out;
}

export const exposeInstruction: Instruction<string[]> = {
  flags: {},
  parse(node) {
    const words = whitespaceWords(node.rest);
    if (words.length === 0) throw nodeError(node, 'EXPOSE requires at least one argument');
    return words;
  },
  dispatch(words, node, st, ctx) {
    const ports = words.flatMap((w) => parsePortSpec(node, expandIn(st, ctx, node, w)));
    st.config.ExposedPorts = { ...(st.config.ExposedPorts ?? {}) };
    for (const p of ports) st.config.ExposedPorts[p] = {};
    commit(st, `EXPOSE ${goSetMap([...new Set(ports)])}`, false);
  },
};
