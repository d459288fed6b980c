// Collects vertices. A vertex id is the sha256 of the canonical JSON of its op (inputs appear in
// the op as their ids), so the same step on the same inputs gets the same id in every build and
// repeated steps within one build collapse into one vertex.
import { createHash } from 'node:crypto';
import type { Op, Ref, Vertex } from '../../core/graph/ops.ts';

/** JSON with object keys sorted and undefined members left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`).join(',')}}`;
}

export function vertexId(op: Op): Ref {
  return 'sha256:' + createHash('sha256').update(canonicalJson(op)).digest('hex');
}

export class GraphBuilder {
  readonly vertices: Record<Ref, Vertex> = {};

  constructor(private readonly ignoreCache: (stage: string | undefined) => boolean) {}

  /** Adds an op (or finds the identical one) and returns its id. */
  add(op: Op, name: string, stage?: string): Ref {
    const clean = JSON.parse(canonicalJson(op)) as Op;
    const id = vertexId(clean);
    const existing = this.vertices[id];
    const ignore = this.ignoreCache(stage);
    if (!existing) {
      this.vertices[id] = { id, op: clean, meta: ignore ? { name, ignoreCache: true } : { name } };
    } else if (ignore) {
      existing.meta.ignoreCache = true;
    }
    return id;
  }
}
