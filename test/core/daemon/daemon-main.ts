// Runs the CLI with the daemon command and the stargz snapshotter available, whether or not
// cli/commands/index.ts and plugins/builtin.ts list them yet (tests spawn this like cli/main.ts).
import { commands } from '../../../cli/commands/index.ts';
import { daemonCommand } from '../../../cli/commands/daemon.ts';
import { builtinPlugins } from '../../../plugins/builtin.ts';
import { stargzSnapshotter } from '../../../plugins/snapshotter-stargz/index.ts';
import { main } from '../../../cli/main.ts';

if (!commands.some((c) => c.name === 'daemon')) commands.push(daemonCommand);
if (!builtinPlugins.some((p) => p.kind === 'snapshotter' && p.id === 'stargz')) builtinPlugins.push(stargzSnapshotter);
process.exit(await main(process.argv.slice(2)));
