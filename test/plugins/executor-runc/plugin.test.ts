// executor.runc registration: a runc that does not answer --version disables the plugin, with why.
import { afterAll, expect, test } from 'bun:test';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runcExecutor } from '../../../plugins/executor-runc/index.ts';
import { PluginDisabled } from '../../../core/plugin/types.ts';
import { removeTempDirs, tempDir } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);

test.skipIf(process.getuid?.() !== 0)('a runc whose --version fails disables the plugin with its stderr', async () => {
  const dir = tempDir('runc-plugin-');
  const fake = join(dir, 'runc');
  writeFileSync(fake, '#!/bin/sh\necho "runc: broken install" >&2\nexit 3\n');
  chmodSync(fake, 0o755);
  const init = runcExecutor.init({ config: { runc: fake, hostname: 'edgebuild' }, root: dir, pluginRoot: join(dir, 'plugin'), global: {} as never, get: () => undefined as never, all: () => [], log: () => {} });
  await expect(init).rejects.toBeInstanceOf(PluginDisabled);
  await expect(init).rejects.toThrow(`${fake} --version failed: runc: broken install`);
});
