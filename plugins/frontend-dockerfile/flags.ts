// Instruction flags (`--from=dev`, `--link`, `--mount=…` repeated). Each instruction declares the
// flags it accepts; anything else is an error naming the flag, as in BuildKit.
import { nodeError, type Node } from './parser.ts';

export type FlagKind = 'string' | 'bool' | 'list';
export type FlagSpec = Record<string, FlagKind>;

export class Flags {
  constructor(
    private readonly strings: Map<string, string>,
    private readonly bools: Map<string, boolean>,
    private readonly lists: Map<string, string[]>,
  ) {}
  string(name: string): string | undefined {
    return this.strings.get(name);
  }
  bool(name: string): boolean {
    return this.bools.get(name) ?? false;
  }
  list(name: string): string[] {
    return this.lists.get(name) ?? [];
  }
}

export function parseFlags(node: Node, spec: FlagSpec): Flags {
  const strings = new Map<string, string>();
  const bools = new Map<string, boolean>();
  const lists = new Map<string, string[]>();
  const seen = new Set<string>();
  for (const raw of node.flags) {
    const eq = raw.indexOf('=');
    const name = eq < 0 ? raw : raw.slice(0, eq);
    const value = eq < 0 ? undefined : raw.slice(eq + 1);
    const kind = spec[name];
    if (!kind) {
      const known = Object.keys(spec).map((k) => `--${k}`).join(', ');
      throw nodeError(node, `unknown flag: --${name} (${node.cmd.toUpperCase()} accepts ${known || 'no flags'})`);
    }
    if (kind !== 'list' && seen.has(name)) throw nodeError(node, `duplicate flag specified: --${name}`);
    seen.add(name);
    if (kind === 'bool') {
      if (value === undefined || value.toLowerCase() === 'true') bools.set(name, true);
      else if (value.toLowerCase() === 'false') bools.set(name, false);
      else throw nodeError(node, `expecting boolean value for flag --${name}, not: ${value}`);
      continue;
    }
    if (value === undefined) throw nodeError(node, `missing a value on flag: --${name}`);
    if (kind === 'string') strings.set(name, value);
    else lists.set(name, [...(lists.get(name) ?? []), value]);
  }
  return new Flags(strings, bools, lists);
}
