// `--from=…` on COPY and RUN --mount: an earlier stage by name or index, else an image reference.
import type { Ref } from '../../../core/graph/ops.ts';
import { parseReference, formatReference } from '../../../core/registry/reference.ts';
import { nodeError, type Node } from '../parser.ts';
import type { BuildContext, StageState } from '../state.ts';

/** The filesystem `from` names (null = empty). */
export async function sourceFrom(from: string, node: Node, st: StageState, ctx: BuildContext): Promise<Ref | null> {
  if (from.includes('$')) {
    // As BuildKit: stage dependencies must be known before any stage is built.
    throw nodeError(node, 'variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround');
  }
  const stage = await ctx.stageByRef(from, node, st);
  if (stage) return stage.ref;
  let ref: string;
  try {
    ref = formatReference(parseReference(from));
  } catch (e) {
    throw nodeError(node, `--from=${from} is neither a build stage nor a valid image reference (${(e as Error).message})`);
  }
  return ctx.graph.add({ op: 'source.image', ref, platform: st.platform }, `FROM ${ref}`, st.name);
}
