// Runs the Dockerfile frontend on in-memory inputs: files of the dockerfile/context sources and
// image configs by reference are the test's inputs.
import type { BuildGraph, ExecOp, FileOp, ImageRuntimeConfig, Op, Vertex, HistoryEntry } from '../../../core/graph/ops.ts';
import type { FrontendRequest, ResolvedImage } from '../../../core/frontend/types.ts';
import { dockerfileFrontend } from '../../../plugins/frontend-dockerfile/index.ts';

export interface SolveInput {
  opts?: Record<string, string>;
  /** Files of the "context" source (the Dockerfile goes in "dockerfile"). */
  context?: Record<string, string>;
  dockerfileSource?: Record<string, string>;
  images?: Record<string, { config?: ImageRuntimeConfig; history?: HistoryEntry[] }>;
}

export const HOST = { os: 'linux', architecture: 'amd64' };

export function request(dockerfile: string, input: SolveInput = {}): FrontendRequest & { resolved: string[] } {
  const enc = new TextEncoder();
  const resolved: string[] = [];
  const filename = input.opts?.filename ?? 'Dockerfile';
  const sources: Record<string, Record<string, string>> = {
    dockerfile: { [filename]: dockerfile, ...(input.dockerfileSource ?? {}) },
    context: input.context ?? {},
  };
  return {
    resolved,
    opts: input.opts ?? {},
    hostPlatform: HOST,
    async readLocalFile(local, path) {
      const text = sources[local]?.[path];
      return text === undefined ? null : enc.encode(text);
    },
    async resolveImageConfig(ref, platform): Promise<ResolvedImage> {
      resolved.push(ref);
      const img = input.images?.[ref];
      if (!img) throw new Error(`no such image ${ref}`);
      return { ref, digest: 'sha256:' + 'ab'.repeat(32), config: structuredClone(img.config ?? {}), history: img.history ?? [], platform };
    },
  };
}

export function solve(dockerfile: string, input: SolveInput = {}): Promise<BuildGraph> {
  return dockerfileFrontend.solve(request(dockerfile, input));
}

export async function solveError(dockerfile: string, input: SolveInput = {}): Promise<string> {
  try {
    await solve(dockerfile, input);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected the frontend to fail');
}

/** Vertices in dependency order ending at the root (depth-first over inputs). */
export function chain(g: BuildGraph, from = g.root): Vertex[] {
  const out: Vertex[] = [];
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const v = g.vertices[id];
    if (!v) throw new Error(`dangling ref ${id}`);
    for (const i of inputsOf(v.op)) visit(i);
    out.push(v);
  };
  visit(from);
  return out;
}

export function inputsOf(op: Op): string[] {
  switch (op.op) {
    case 'exec':
      return op.mounts.map((m) => m.input).filter((x): x is string => !!x);
    case 'file': {
      const ins = op.base ? [op.base] : [];
      for (const a of op.actions) if (a.action === 'copy' && a.src) ins.push(a.src);
      return ins;
    }
    case 'merge':
      return op.inputs;
    default:
      return [];
  }
}

export const rootOp = (g: BuildGraph) => g.vertices[g.root].op;
export const asExec = (op: Op) => {
  if (op.op !== 'exec') throw new Error(`expected exec, got ${op.op}`);
  return op as ExecOp;
};
export const asFile = (op: Op) => {
  if (op.op !== 'file') throw new Error(`expected file, got ${op.op}`);
  return op as FileOp;
};
export const names = (g: BuildGraph) => chain(g).map((v) => v.meta.name);
export const createdBy = (g: BuildGraph) => g.image.history.map((h) => h.created_by);
