// Dockerfile nodes → global ARGs and stages of compiled commands. Everything is checked here,
// for every stage, before anything is built (as BuildKit parses the whole file first).
import { FrontendError } from '../../core/frontend/types.ts';
import type { Dockerfile, Node } from './parser.ts';
import { nodeError } from './parser.ts';
import { parseFlags } from './flags.ts';
import { compile } from './instructions/index.ts';
import type { Command } from './instructions/types.ts';
import { parseFrom, type FromCommand } from './instructions/from.ts';
import { parseArgs } from './instructions/arg.ts';
import type { KeyValue } from './instructions/syntax.ts';

export interface StageDef {
  index: number;
  /** `AS` name, lower-cased. */
  name?: string;
  from: FromCommand;
  node: Node;
  commands: Command[];
}

export interface Program {
  file: string;
  escape: string;
  globalArgs: { node: Node; args: KeyValue[] }[];
  stages: StageDef[];
}

export function compileProgram(df: Dockerfile): Program {
  const escape = df.directives.escape;
  const program: Program = { file: df.file, escape, globalArgs: [], stages: [] };
  for (const node of df.nodes) {
    if (node.cmd === 'from') {
      const from = parseFrom(node);
      if (from.stageName && program.stages.some((s) => s.name === from.stageName)) {
        throw nodeError(node, `duplicate stage name ${JSON.stringify(from.stageName)}`);
      }
      program.stages.push({ index: program.stages.length, name: from.stageName, from, node, commands: [] });
      continue;
    }
    const stage = program.stages[program.stages.length - 1];
    if (!stage) {
      if (node.cmd !== 'arg') throw nodeError(node, `${node.cmd.toUpperCase()} before the first FROM: only ARG may come before FROM`);
      parseFlags(node, {});
      program.globalArgs.push({ node, args: parseArgs(node, escape) });
      continue;
    }
    stage.commands.push(compile(node, escape));
  }
  if (program.stages.length === 0) throw new FrontendError('the Dockerfile has no build stage (no FROM instruction)', df.file);
  return program;
}
