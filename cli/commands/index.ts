// Every command of the binary, in the order `edgebuild --help` lists them.
import type { Command } from '../command.ts';
import { buildCommand } from './build.ts';
import { pullCommand } from './pull.ts';
import { inspectCommand } from './inspect.ts';
import { copyCommand } from './copy.ts';
import { pluginsCommand } from './plugins.ts';
import { duCommand, pruneCommand } from './du.ts';
import { daemonCommand } from './daemon.ts';
import { convertCommand } from './convert.ts';
import { benchCommand } from './bench.ts';
import { snapshotterCommand } from './snapshotter.ts';

export const commands: Command[] = [buildCommand, daemonCommand, pullCommand, inspectCommand, copyCommand, convertCommand, benchCommand, snapshotterCommand, duCommand, pruneCommand, pluginsCommand];
