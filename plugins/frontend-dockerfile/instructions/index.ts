// Instruction word → module. compile() reads a node's flags and arguments into a Command.
import type { Command, Instruction } from './types.ts';
import type { Node } from '../parser.ts';
import { nodeError } from '../parser.ts';
import { parseFlags } from '../flags.ts';
import { addInstruction, copyInstruction } from './copy.ts';
import { argInstruction } from './arg.ts';
import { cmdInstruction, entrypointInstruction } from './cmd.ts';
import { envInstruction } from './env.ts';
import { exposeInstruction } from './expose.ts';
import { healthcheckInstruction } from './healthcheck.ts';
import { labelInstruction } from './label.ts';
import { maintainerInstruction } from './maintainer.ts';
import { onbuildInstruction } from './onbuild.ts';
import { runInstruction } from './run.ts';
import { shellInstruction } from './shell.ts';
import { stopsignalInstruction } from './stopsignal.ts';
import { userInstruction } from './user.ts';
import { volumeInstruction } from './volume.ts';
import { workdirInstruction } from './workdir.ts';

const INSTRUCTIONS: Record<string, Instruction<any>> = {
  add: addInstruction,
  arg: argInstruction,
  cmd: cmdInstruction,
  copy: copyInstruction,
  entrypoint: entrypointInstruction,
  env: envInstruction,
  expose: exposeInstruction,
  healthcheck: healthcheckInstruction,
  label: labelInstruction,
  maintainer: maintainerInstruction,
  run: runInstruction,
  shell: shellInstruction,
  stopsignal: stopsignalInstruction,
  user: userInstruction,
  volume: volumeInstruction,
  workdir: workdirInstruction,
};

/** Compiles one stage instruction (not FROM) into a command. */
export function compile(node: Node, escape: string): Command {
  const ins = INSTRUCTIONS[node.cmd] ?? (node.cmd === 'onbuild' ? onbuild(escape) : undefined);
  if (!ins) throw nodeError(node, `${node.cmd.toUpperCase()} is not allowed here`);
  const cmd = ins.parse(node, parseFlags(node, ins.flags), escape);
  return { node, dispatch: (st, ctx) => ins.dispatch(cmd, node, st, ctx) };
}

function onbuild(escape: string): Instruction<string> {
  return onbuildInstruction((trigger) => void compile(trigger, escape));
}
