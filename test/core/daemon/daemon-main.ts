// Runs the CLI with the daemon command available, whether or not cli/commands/index.ts lists it
// yet (the test harness spawns this like cli/main.ts).
import { commands } from '../../../cli/commands/index.ts';
import { daemonCommand } from '../../../cli/commands/daemon.ts';
import { main } from '../../../cli/main.ts';

if (!commands.some((c) => c.name === 'daemon')) commands.push(daemonCommand);
process.exit(await main(process.argv.slice(2)));
