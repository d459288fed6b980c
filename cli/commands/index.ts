// Every command of the binary, in the order `edgebuild --help` lists them.
import type { Command } from '../command.ts';
import { pluginsCommand } from './plugins.ts';

export const commands: Command[] = [pluginsCommand];
