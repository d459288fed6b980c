// Basic (htpasswd) and Bearer (token server) registries, credentials from a DOCKER_CONFIG we write.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';
import { buildImage, type BuiltImage } from '../../harness/registry-images.ts';
import { testContext } from '../../harness/command-context.ts';
import { storedBlobs } from '../../harness/store-contents.ts';
import { pullCommand } from '../../../cli/commands/pull.ts';
import { copyCommand } from '../../../cli/commands/copy.ts';
import { DockerConfigCredentials } from '../../../plugins/auth-docker-config/index.ts';

afterAll(removeTempDirs);

function dockerConfig(host: string, user: string, password: string): DockerConfigCredentials {
  const dir = tempDir('eb-dcfg-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ auths: { [host]: { auth: Buffer.from(`${user}:${password}`).toString('base64') } } }));
  return new DockerConfigCredentials(join(dir, 'config.json'));
}

for (const kind of ['basic', 'token'] as const) {
  describe(`${kind} auth`, () => {
    let reg: TestRegistry;
    let img: BuiltImage;
    beforeAll(async () => {
      reg = await startRegistry({ kind, users: { alice: 'secret' } });
      img = await buildImage({ layers: [{ f: `auth ${kind}` }, { g: 'second layer' }] });
    });
    afterAll(async () => {
      await reg?.stop();
    });

    test(`[slow] push and pull with credentials from docker config (${kind})`, async () => {
      const creds = dockerConfig(reg.host, 'alice', 'secret');
      const push = testContext({ credentials: [creds] });
      expect(await copyCommand.run([`oci:${img.dir}:${img.tag}`, `docker://${reg.host}/private/app:1`], push)).toBe(0);
      const pull = testContext({ credentials: [creds] });
      expect(await pullCommand.run([`${reg.host}/private/app:1`], pull)).toBe(0);
      expect(pull.stdout).toEqual([img.top.digest]);
      if (kind === 'token') {
        // One token per scope set: pushing asked for pull,push on one repo, pulling for pull.
        const scopes = reg.token!.issued.map((t) => t.scopes.join(' '));
        expect(new Set(scopes)).toEqual(new Set(['repository:private/app:pull,push', 'repository:private/app:pull']));
        expect(reg.token!.issued.every((t) => t.user === 'alice')).toBe(true);
      }
    });

    test(`[slow] wrong password: one line saying 401 and naming the host, nothing stored (${kind})`, async () => {
      const ctx = testContext({ credentials: [dockerConfig(reg.host, 'alice', 'wrong')] });
      const e = await pullCommand.run([`${reg.host}/private/app:1`], ctx).catch((err) => err);
      expect(e.message).toContain(`pull ${reg.host}/private/app:1: `);
      expect(e.message).toContain(`401 unauthorized at ${reg.host}`);
      expect(e.message).toContain('(check credentials)');
      expect(e.message).not.toContain('\n');
      expect(storedBlobs(ctx.root)).toEqual([]);
    });

    test(`[slow] no credentials: 401 naming the host (${kind})`, async () => {
      const ctx = testContext();
      const e = await pullCommand.run([`${reg.host}/private/app:1`], ctx).catch((err) => err);
      expect(e.message).toBe(`pull ${reg.host}/private/app:1: 401 unauthorized at ${reg.host} (check credentials)`);
    });
  });
}
