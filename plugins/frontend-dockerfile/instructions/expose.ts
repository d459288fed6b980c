// EXPOSE [[ip:]hostPort:]port[-end][/proto] …: container ports as "80/tcp" keys (tcp when no
// protocol; ranges expand; a host part is accepted and ignored, as BuildKit still does).
import type { Instruction } from './types.ts';
import { whitespaceWords } from './syntax.ts';
import { nodeError, type Node } from '../parser.ts';
import { commit, expansionEnv, type StageState, type BuildContext } from '../state.ts';
import { expandWords, ExpandError } from '../expand.ts';
import { goList } from '../gofmt.ts';

function portRange(text: string): [number, number] | null {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?$/.exec(text);
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (start > 65535 || end > 65535 || end < start) return null;
  return [start, end];
}

export function parsePortSpec(node: Node, spec: string): string[] {
  const parts = spec.split(':');
  const containerPart = parts[parts.length - 1];
  const hostPort = parts.length >= 2 ? parts[parts.length - 2] : '';
  const slash = containerPart.indexOf('/');
  const port = slash < 0 ? containerPart : containerPart.slice(0, slash);
  const proto = slash < 0 ? 'tcp' : containerPart.slice(slash + 1).toLowerCase() || 'tcp';
  if (port === '') throw nodeError(node, `no port specified: ${spec}<empty>`);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw nodeError(node, `invalid proto: ${proto}`);
  const range = portRange(port);
  if (!range) throw nodeError(node, `invalid containerPort: ${port}`);
  if (hostPort !== '' && !portRange(hostPort)) throw nodeError(node, `invalid hostPort: ${hostPort}`);
  const out: string[] = [];
  for (let p = range[0]; p <= range[1]; p++) out.push(`${p}/${proto}`);
  return out;
}

function expandPorts(word: string, node: Node, st: StageState, ctx: BuildContext): string[] {
  try {
    return expandWords(word, expansionEnv(st), { escape: ctx.escape });
  } catch (e) {
    if (e instanceof ExpandError) throw nodeError(node, e.message);
    throw e;
  }
}

export const exposeInstruction: Instruction<string[]> = {
  flags: {},
  parse(node) {
    const words = whitespaceWords(node.rest);
    if (words.length === 0) throw nodeError(node, 'EXPOSE requires at least one argument');
    return [...words].sort();
  },
  dispatch(words, node, st, ctx) {
    const ports = words.flatMap((w) => expandPorts(w, node, st, ctx)).flatMap((p) => parsePortSpec(node, p));
    st.config.ExposedPorts = { ...(st.config.ExposedPorts ?? {}) };
    for (const p of ports) st.config.ExposedPorts[p] = {};
    commit(st, `EXPOSE ${goList(ports)}`, false);
  },
};
