// STOPSIGNAL SIGTERM|TERM|15: the signal that stops the container.
import type { Instruction } from './types.ts';
import { nodeError } from '../parser.ts';
import { commit, expandIn } from '../state.ts';

const SIGNALS = new Set([
  'ABRT', 'ALRM', 'BUS', 'CHLD', 'CLD', 'CONT', 'FPE', 'HUP', 'ILL', 'INT', 'IO', 'IOT', 'KILL', 'PIPE', 'POLL', 'PROF',
  'PWR', 'QUIT', 'SEGV', 'STKFLT', 'STOP', 'SYS', 'TERM', 'TRAP', 'TSTP', 'TTIN', 'TTOU', 'UNUSED', 'URG', 'USR1', 'USR2',
  'VTALRM', 'WINCH', 'XCPU', 'XFSZ',
]);

export function validSignal(sig: string): boolean {
  if (/^\d+$/.test(sig)) return Number(sig) >= 1 && Number(sig) <= 64;
  const name = sig.toUpperCase().replace(/^SIG/, '');
  return SIGNALS.has(name) || /^RT(MIN|MAX)([+-]\d+)?$/.test(name);
}

export const stopsignalInstruction: Instruction<string> = {
  flags: {},
  parse(node) {
    if (node.rest === '' || /\s/.test(node.rest)) throw nodeError(node, 'STOPSIGNAL requires exactly one argument');
    return node.rest;
  },
  dispatch(text, node, st, ctx) {
    const sig = expandIn(st, ctx, node, text);
    if (!validSignal(sig)) throw nodeError(node, `invalid signal: ${sig}`);
    st.config.StopSignal = sig;
    commit(st, `STOPSIGNAL ${sig}`, false);
  },
};
