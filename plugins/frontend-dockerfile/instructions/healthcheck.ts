// HEALTHCHECK NONE | HEALTHCHECK [--interval --timeout --start-period --start-interval --retries]
// CMD …: durations are Go durations stored in nanoseconds; 0 (unset) means "inherit the default".
import type { ImageRuntimeConfig } from '../../../core/graph/ops.ts';
import type { Instruction } from './types.ts';
import { jsonOrShell } from './syntax.ts';
import { nodeError, type Node } from '../parser.ts';
import type { Flags } from '../flags.ts';
import { commit } from '../state.ts';
import { formatGoDuration, parseGoDuration } from '../duration.ts';
import { goList } from '../gofmt.ts';

type Healthcheck = NonNullable<ImageRuntimeConfig['Healthcheck']>;
const MIN_DURATION = 1e6; // 1ms, as Docker requires

function duration(node: Node, flags: Flags, name: string): number | undefined {
  const text = flags.string(name);
  if (text === undefined) return undefined;
  const ns = parseGoDuration(text);
  if (ns === null) throw nodeError(node, `invalid duration for --${name}: ${JSON.stringify(text)}`);
  if (ns === 0) return undefined;
  if (ns < MIN_DURATION) throw nodeError(node, `--${name} ${JSON.stringify(text)} cannot be less than 1ms`);
  return ns;
}

export const healthcheckInstruction: Instruction<Healthcheck> = {
  flags: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
  parse(node, flags) {
    const m = /^(\S+)\s*([\s\S]*)$/.exec(node.rest);
    if (!m) throw nodeError(node, 'HEALTHCHECK requires an argument (NONE or CMD …)');
    const type = m[1].toUpperCase();
    if (type === 'NONE') {
      if (m[2].trim() !== '') throw nodeError(node, 'HEALTHCHECK NONE takes no arguments');
      return { Test: ['NONE'] };
    }
    if (type !== 'CMD') throw nodeError(node, `Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
    const form = jsonOrShell(node, m[2].trim());
    if (form.json ? form.args.length === 0 : form.line === '') throw nodeError(node, 'Missing command after HEALTHCHECK CMD');
    const hc: Healthcheck = { Test: form.json ? ['CMD', ...form.args] : ['CMD-SHELL', form.line] };
    hc.Interval = duration(node, flags, 'interval');
    hc.Timeout = duration(node, flags, 'timeout');
    hc.StartPeriod = duration(node, flags, 'start-period');
    hc.StartInterval = duration(node, flags, 'start-interval');
    const retries = flags.string('retries');
    if (retries !== undefined) {
      if (!/^-?\d+$/.test(retries)) throw nodeError(node, `invalid --retries value: ${JSON.stringify(retries)}`);
      const n = Number(retries);
      if (n < 0) throw nodeError(node, '--retries cannot be negative');
      if (n > 0) hc.Retries = n;
    }
    for (const k of Object.keys(hc) as (keyof Healthcheck)[]) if (hc[k] === undefined) delete hc[k];
    return hc;
  },
  dispatch(hc, _node, st) {
    st.config.Healthcheck = structuredClone(hc);
    const d = (ns?: number) => formatGoDuration(ns ?? 0);
    // BuildKit prints the Go struct with %+v: {Test:[CMD-SHELL …] Interval:30s … Retries:3}
    const shown = `{Test:${goList(hc.Test ?? [])} Interval:${d(hc.Interval)} Timeout:${d(hc.Timeout)} StartPeriod:${d(hc.StartPeriod)} StartInterval:${d(hc.StartInterval)} Retries:${hc.Retries ?? 0}}`;
    commit(st, `HEALTHCHECK ${shown}`, false);
  },
};
