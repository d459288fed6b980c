// RUN --mount=type=bind|cache|tmpfs|secret|ssh,key=value,…: parsed and checked up front, turned
// into exec mounts at dispatch (targets relative to WORKDIR, `from` a stage or image).
import type { ExecMount, Ref } from '../../../core/graph/ops.ts';
import { nodeError, type Node } from '../parser.ts';
import { expandIn, joinPath, resolveInWorkdir, type BuildContext, type StageState } from '../state.ts';
import { sourceFrom } from './from-source.ts';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';

export interface MountSpec {
  type: MountType;
  target?: string;
  source?: string;
  from?: string;
  readonly?: boolean;
  id?: string;
  sharing?: 'shared' | 'private' | 'locked';
  mode?: number;
  uid?: number;
  gid?: number;
  required?: boolean;
  size?: number;
  env?: string;
}

/** An exec mount; `env` names the variable a secret is also exposed as (proposed for ExecMount). */
export type RunMount = ExecMount & { env?: string };

const ALLOWED: Record<MountType, string[]> = {
  bind: ['target', 'source', 'from', 'readonly'],
  cache: ['target', 'source', 'from', 'readonly', 'id', 'sharing', 'mode', 'uid', 'gid'],
  tmpfs: ['target', 'size'],
  secret: ['target', 'id', 'source', 'required', 'mode', 'uid', 'gid', 'env'],
  ssh: ['target', 'id', 'required', 'mode', 'uid', 'gid'],
};
const ALIASES: Record<string, string> = { dst: 'target', destination: 'target', src: 'source', ro: 'readonly', rw: 'readwrite' };

/** Comma-separated fields; a field may be double-quoted to hold commas (as a CSV reader would). */
function csvFields(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') {
      if (quoted && text[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

function parseBool(node: Node, key: string, value: string | undefined): boolean {
  if (value === undefined || value.toLowerCase() === 'true' || value === '1') return true;
  if (value.toLowerCase() === 'false' || value === '0') return false;
  throw nodeError(node, `invalid value for --mount ${key}: ${JSON.stringify(value)} (expected true or false)`);
}

function parseUint(node: Node, key: string, value: string | undefined, radix: number): number {
  const re = radix === 8 ? /^[0-7]+$/ : /^\d+$/;
  if (value === undefined || !re.test(value)) throw nodeError(node, `invalid value for --mount ${key}: ${JSON.stringify(value ?? '')}`);
  return parseInt(value, radix);
}

/** "64m", "1g", "512k", "1048576" → bytes. */
export function parseSize(text: string): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)(i?b)?$/i.exec(text.trim());
  if (!m) return null;
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[m[2].toLowerCase() as '' | 'k'];
  return Math.floor(Number(m[1]) * mult);
}

export function parseMountSpec(node: Node, text: string): MountSpec {
  const fields = csvFields(text).filter((f) => f.trim() !== '');
  if (fields.length === 0) throw nodeError(node, 'empty --mount');
  const raw: [string, string | undefined, string][] = fields.map((f) => {
    const eq = f.indexOf('=');
    const key = (eq < 0 ? f : f.slice(0, eq)).trim().toLowerCase();
    return [ALIASES[key] ?? key, eq < 0 ? undefined : f.slice(eq + 1), f];
  });
  const typeField = raw.find(([k]) => k === 'type');
  const type = (typeField?.[1] ?? 'bind').toLowerCase();
  if (!(type in ALLOWED)) throw nodeError(node, `unsupported mount type ${JSON.stringify(type)} (bind, cache, tmpfs, secret or ssh)`);
  const spec: MountSpec = { type: type as MountType };
  const allowed = ALLOWED[spec.type];
  for (const [key, value, field] of raw) {
    if (key === 'type') continue;
    const k = key === 'readwrite' ? 'readonly' : key;
    if (!allowed.includes(k)) {
      const known = ['target', 'source', 'from', 'readonly', 'readwrite', 'id', 'sharing', 'mode', 'uid', 'gid', 'required', 'size', 'env'];
      if (!known.includes(key)) throw nodeError(node, `unexpected key '${key}' in '${field}'`);
      throw nodeError(node, `--mount type=${type} does not take '${key}'`);
    }
    const need = () => {
      if (value === undefined || value === '') throw nodeError(node, `--mount ${key} needs a value (in '${field}')`);
      return value;
    };
    switch (key) {
      case 'target': spec.target = need(); break;
      case 'source': spec.source = need(); break;
      case 'from': spec.from = need(); break;
      case 'id': spec.id = need(); break;
      case 'env': spec.env = need(); break;
      case 'readonly': spec.readonly = parseBool(node, key, value); break;
      case 'readwrite': spec.readonly = !parseBool(node, key, value); break;
      case 'required': spec.required = parseBool(node, key, value); break;
      case 'mode': spec.mode = parseUint(node, key, value, 8); break;
      case 'uid': spec.uid = parseUint(node, key, value, 10); break;
      case 'gid': spec.gid = parseUint(node, key, value, 10); break;
      case 'sharing': {
        const v = need().toLowerCase();
        if (v !== 'shared' && v !== 'private' && v !== 'locked') throw nodeError(node, `unsupported sharing value ${JSON.stringify(v)} (shared, private or locked)`);
        spec.sharing = v;
        break;
      }
      case 'size': {
        const n = parseSize(need());
        if (n === null) throw nodeError(node, `invalid --mount size: ${JSON.stringify(value)}`);
        spec.size = n;
        break;
      }
    }
  }
  if ((spec.type === 'bind' || spec.type === 'cache' || spec.type === 'tmpfs') && !spec.target) {
    throw nodeError(node, `--mount type=${spec.type} requires a target`);
  }
  if (spec.type === 'secret' && !spec.id && !spec.source && !spec.target) throw nodeError(node, '--mount type=secret requires an id (or source) or a target');
  return spec;
}

/** Resolves a mount spec for the stage as it is now. */
export async function toExecMount(spec: MountSpec, index: number, node: Node, st: StageState, ctx: BuildContext): Promise<RunMount> {
  const x = (w: string | undefined) => (w === undefined ? undefined : expandIn(st, ctx, node, w));
  const target = x(spec.target);
  const abs = (p: string) => {
    const t = joinPath(resolveInWorkdir(st, p));
    if (t === '/') throw nodeError(node, `invalid mount target ${JSON.stringify(p)}: the root is the RUN's own filesystem`);
    return t;
  };
  const sourcePath = spec.source === undefined ? '/' : joinPath('/', x(spec.source)!);
  const source = sourcePath === '/' ? undefined : sourcePath;
  let input: Ref | null | undefined;
  if (spec.from !== undefined) input = await sourceFrom(spec.from, node, st, ctx);
  switch (spec.type) {
    case 'bind': {
      if (spec.from === undefined) input = await ctx.context();
      return { type: 'bind', target: abs(target!), input: input ?? undefined, source, readonly: spec.readonly ?? true, output: false };
    }
    case 'cache': {
      const t = abs(target!);
      return {
        type: 'cache', target: t, cacheId: x(spec.id) ?? t, sharing: spec.sharing ?? 'shared',
        input: input ?? undefined, source, readonly: spec.readonly ?? false,
        mode: spec.mode ?? 0o755, uid: spec.uid ?? 0, gid: spec.gid ?? 0,
      };
    }
    case 'tmpfs':
      return { type: 'tmpfs', target: abs(target!), size: spec.size };
    case 'secret': {
      // As BuildKit: source= names the secret too, else id=, else the target's base name.
      const id = x(spec.source) ?? x(spec.id) ?? target!.split('/').filter(Boolean).pop()!;
      return {
        type: 'secret', target: target ? abs(target) : `/run/secrets/${id}`, secretId: id,
        required: spec.required ?? false, mode: spec.mode ?? 0o400, uid: spec.uid ?? 0, gid: spec.gid ?? 0,
        env: x(spec.env),
      };
    }
    case 'ssh': {
      const id = x(spec.id) ?? 'default';
      return {
        type: 'ssh', target: target ? abs(target) : `/run/buildkit/ssh_agent.${index}`, secretId: id,
        required: spec.required ?? false, mode: spec.mode ?? 0o600, uid: spec.uid ?? 0, gid: spec.gid ?? 0,
      };
    }
  }
}
