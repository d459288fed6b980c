// "user[:group]" (names or ids) → the graph's chown option.
import type { ChownOpt } from '../../../core/graph/ops.ts';

export function chownFromUser(spec: string): ChownOpt {
  const i = spec.indexOf(':');
  if (i < 0) return { user: spec };
  return { user: spec.slice(0, i), group: spec.slice(i + 1) || undefined };
}
