// A small flag parser shared by commands: `--flag value`, `--flag=value`, `-f value`, repeatable
// flags, booleans, and `--` to end flags. Unknown flags are an error naming the flag.
import { UserError } from './command.ts';

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  short?: string;
  type: 'string' | 'boolean' | 'list';
}

export interface ParsedArgs {
  flags: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export function parseFlags(command: string, args: string[], specs: FlagSpec[]): ParsedArgs {
  const flags: ParsedArgs['flags'] = {};
  const positionals: string[] = [];
  for (const s of specs) if (s.type === 'list') flags[s.name] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      positionals.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = a.startsWith('--') ? a.slice(2, eq > 0 ? eq : undefined) : a.slice(1, 2);
    const spec = a.startsWith('--') ? specs.find((s) => s.name === name) : specs.find((s) => s.short === name);
    if (!spec) throw new UserError(`${command}: unknown flag ${a.split('=')[0]} (see \`edgebuild ${command} --help\`)`, 2);
    let value: string | undefined;
    if (eq > 0 && a.startsWith('--')) value = a.slice(eq + 1);
    else if (!a.startsWith('--') && a.length > 2) value = a.slice(2);
    if (spec.type === 'boolean') {
      flags[spec.name] = value === undefined ? true : !['false', '0', 'no'].includes(value);
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UserError(`${command}: flag --${spec.name} needs a value`, 2);
      value = args[++i];
    }
    if (spec.type === 'list') (flags[spec.name] as string[]).push(value);
    else flags[spec.name] = value;
  }
  return { flags, positionals };
}

/** Splits "a=b,c=d" (values may be quoted with "…") into a map, as buildctl's --output does. */
export function parseKeyValues(text: string, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of splitCsv(text)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) throw new UserError(`${what}: expected key=value, got ${JSON.stringify(part)}`, 2);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1);
  }
  return out;
}

function splitCsv(text: string): string[] {
  const parts: string[] = [];
  let cur = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    else if (ch === ',' && !quoted) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}
