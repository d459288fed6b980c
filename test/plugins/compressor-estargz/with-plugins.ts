// Runs the CLI with the estargz/zstdchunked compressors registered, whether or not
// plugins/builtin.ts lists them yet (child-process entry for the export tests).
import { builtinPlugins } from '../../../plugins/builtin.ts';
import { estargzPlugin, zstdchunkedPlugin } from '../../../plugins/compressor-estargz/index.ts';

for (const p of [estargzPlugin, zstdchunkedPlugin]) if (!builtinPlugins.some((b) => b.kind === p.kind && b.id === p.id)) builtinPlugins.push(p);
const { main } = await import('../../../cli/main.ts');
process.exit(await main(process.argv.slice(2)));
