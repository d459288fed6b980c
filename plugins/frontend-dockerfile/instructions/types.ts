// An instruction module: the flags it accepts, how it reads its node (checked for the whole file
// before anything is built) and how it changes a stage.
import type { FlagSpec, Flags } from '../flags.ts';
import type { Node } from '../parser.ts';
import type { BuildContext, StageState } from '../state.ts';

export interface Instruction<C> {
  flags: FlagSpec;
  parse(node: Node, flags: Flags, escape: string): C;
  dispatch(cmd: C, node: Node, st: StageState, ctx: BuildContext): void | Promise<void>;
}

/** A parsed instruction, ready to dispatch. */
export interface Command {
  node: Node;
  dispatch(st: StageState, ctx: BuildContext): void | Promise<void>;
}
