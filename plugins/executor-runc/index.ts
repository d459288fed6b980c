// executor.runc: RUN steps in runc containers (rootful), state under the plugin's own dir.
import * as v from 'valibot';
import { existsSync } from 'node:fs';
import { PluginDisabled, type PluginRegistration } from '../../core/plugin/types.ts';
import { RuncExecutor } from './executor.ts';

const config = v.strictObject({
  /** Path of the runc binary. */
  runc: v.optional(v.pipe(v.string(), v.startsWith('/')), '/usr/sbin/runc'),
  /** Hostname inside RUN containers when the request names none. */
  hostname: v.optional(v.pipe(v.string(), v.regex(/^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/)), 'edgebuild'),
});

export const runcExecutor: PluginRegistration<v.InferOutput<typeof config>, RuncExecutor> = {
  kind: 'executor',
  id: 'runc',
  description: 'runs RUN steps with runc (needs root)',
  config,
  async init(ctx) {
    if (!existsSync(ctx.config.runc)) throw new PluginDisabled(`${ctx.config.runc} not found (apt-get install runc)`);
    if (process.getuid?.() !== 0) throw new PluginDisabled('runc containers need root; rootless mode is not supported');
    // Asynchronous, so that the other plugins' start-up goes on meanwhile.
    const version = Bun.spawn([ctx.config.runc, '--version'], { stdin: 'ignore', stdout: 'ignore', stderr: 'pipe' });
    const [stderr, code] = await Promise.all([new Response(version.stderr).text(), version.exited]);
    if (code !== 0) throw new PluginDisabled(`${ctx.config.runc} --version failed: ${stderr.trim()}`);
    const exec = new RuncExecutor({ runc: ctx.config.runc, root: ctx.pluginRoot, defaultHostname: ctx.config.hostname });
    const stale = await exec.cleanupStale();
    if (stale.length) ctx.log(`cleaned up ${stale.length} container(s) left by an earlier run: ${stale.join(', ')}`);
    return exec;
  },
};

export default runcExecutor;
