// The state a stage carries while its instructions are dispatched, the build-wide context the
// instructions reach through, and small helpers they share (expansion env, step names, history).
import type { HistoryEntry, ImageRuntimeConfig, Platform, Ref } from '../../core/graph/ops.ts';
import { envMap, expandWord, ExpandError, type LexOptions } from './expand.ts';
import type { GraphBuilder } from './graph.ts';
import { nodeError, type Node } from './parser.ts';

export const DEFAULT_SHELL = ['/bin/sh', '-c'];
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
export const HISTORY_COMMENT = 'buildkit.dockerfile.v0';
/** Passed to RUN when given as build args, but kept out of history unless declared with ARG. */
export const PROXY_ARGS = ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy'];

export interface StageState {
  /** Display name: the `AS` name or "stage-N". */
  name: string;
  index: number;
  /** The stage's filesystem so far; null = empty (scratch). */
  ref: Ref | null;
  config: ImageRuntimeConfig;
  history: HistoryEntry[];
  platform: Platform;
  /** The registry image this stage builds on, directly or through earlier stages. */
  baseImage?: string;
  /** ARGs in scope (this stage's and its base stage's), in order; undefined = no value. */
  args: Map<string, string | undefined>;
  /** The environment RUN sees and words are expanded with: image ENV plus ARG values, in the
   *  order they were set (BuildKit's llb state env). The image config keeps only ENV. */
  env: string[];
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
  /** Progress numbering: steps that make vertices (FROM image, RUN, COPY, ADD, WORKDIR). */
  step: number;
  total: number;
  /** Shown in progress names; "" for a Dockerfile with one stage. */
  label: string;
  /** The command being dispatched came from an ONBUILD trigger. */
  inOnbuild?: boolean;
}

export interface BuildContext {
  /** The Dockerfile's escape token. */
  escape: string;
  graph: GraphBuilder;
  /** `build-arg:K=V` options. */
  buildArgs: ReadonlyMap<string, string>;
  /** ARGs declared before the first FROM, after build-arg overrides. */
  globalArgs: ReadonlyMap<string, string | undefined>;
  /** TARGETPLATFORM, BUILDARCH, …: usable in FROM, and in a stage once declared. */
  predefinedArgs: ReadonlyMap<string, string>;
  /** The build context source (created on first use, with .dockerignore excludes). */
  context(): Promise<Ref>;
  /** The stage `from` names (by name or index), converted on demand; null when it is no stage. */
  stageByRef(from: string, node: Node, current: StageState): Promise<StageState | null>;
}

/** Variables an instruction's words are expanded with: the stage env (ENV and ARG values). */
export function expansionEnv(st: StageState): Map<string, string> {
  return envMap(st.env);
}

export function expandIn(st: StageState, ctx: BuildContext, node: Node, word: string, opts: LexOptions = {}): string {
  try {
    return expandWord(word, expansionEnv(st), { escape: ctx.escape, ...opts });
  } catch (e) {
    if (e instanceof ExpandError) throw nodeError(node, e.message);
    throw e;
  }
}

/** Progress name like BuildKit's: "[dev 2/3] RUN go build -o /hello /hello.go" (the step index is
 *  padded to the width of the total; variables shown expanded, unset ones as written). */
export function stepName(st: StageState, ctx: BuildContext, node: Node, text = node.original, masked: string[] = []): string {
  let shown = text;
  const env = expansionEnv(st);
  for (const k of masked) env.set(k, '****'); // variables a secret provides are shown masked
  try {
    shown = expandWord(text, env, { escape: ctx.escape, rawQuotes: true, skipUnset: true });
  } catch {
    // shown as written when it does not expand
  }
  const m = /^(\S+)([\s\S]*)$/.exec(shown);
  const cmd = m ? m[1].toUpperCase() + m[2] : shown;
  if (st.total === 0) return cmd;
  st.step++;
  const width = String(st.total).length;
  const prefix = `[${st.label ? st.label + ' ' : ''}${String(st.step).padStart(width, ' ')}/${st.total}] `;
  return prefix + (st.inOnbuild ? 'ONBUILD ' : '') + cmd;
}

/** Appends a history entry the way BuildKit writes them ("… # buildkit" on RUN/COPY/ADD layers). */
export function commit(st: StageState, createdBy: string, withLayer: boolean, buildkitSuffix = withLayer): void {
  const entry: HistoryEntry = { created_by: buildkitSuffix ? `${createdBy} # buildkit` : createdBy, comment: HISTORY_COMMENT };
  if (!withLayer) entry.empty_layer = true;
  st.history.push(entry);
}

/** Sets K=V in an env list, replacing an earlier K in place. */
export function setEnv(list: string[] | undefined, key: string, value: string): string[] {
  const out = [...(list ?? [])];
  const i = out.findIndex((kv) => kv === key || kv.startsWith(key + '='));
  if (i >= 0) out[i] = `${key}=${value}`;
  else out.push(`${key}=${value}`);
  return out;
}

/** Sets K=V in the stage env (ENV and ARG both do; ENV also sets the image config). */
export function addStateEnv(st: StageState, key: string, value: string): void {
  st.env = setEnv(st.env, key, value);
}

/** What a RUN process sees: the stage env plus proxy build-args (never written to history). */
export function runEnv(st: StageState, ctx: BuildContext): string[] {
  const env = [...st.env];
  const has = (k: string) => env.some((kv) => kv.startsWith(k + '='));
  for (const k of PROXY_ARGS) {
    const v = ctx.buildArgs.get(k);
    if (v !== undefined && !has(k)) env.push(`${k}=${v}`);
  }
  return env;
}

/** The `|N K=V …` prefix BuildKit puts before RUN commands in history when ARGs are in scope:
 *  every ARG in scope, with its value in the stage env (or its own value, or empty). */
export function runHistoryArgs(st: StageState): string[] {
  const env = envMap(st.env);
  const out = [...st.args].map(([k, v]) => `${k}=${env.get(k) ?? v ?? ''}`);
  return out.length > 0 ? [`|${out.length}`, ...out] : [];
}

/** An absolute path for `p`, relative to the stage's WORKDIR when not absolute. */
export function resolveInWorkdir(st: StageState, p: string): string {
  if (p.startsWith('/')) return p;
  return joinPath(st.config.WorkingDir || '/', p);
}

/** path.posix.join + clean, keeping the result absolute. */
export function joinPath(...parts: string[]): string {
  const segs: string[] = [];
  for (const part of parts) {
    for (const s of part.split('/')) {
      if (s === '' || s === '.') continue;
      if (s === '..') segs.pop();
      else segs.push(s);
    }
  }
  return '/' + segs.join('/');
}

export function cloneConfig(c: ImageRuntimeConfig): ImageRuntimeConfig {
  return structuredClone(c);
}
