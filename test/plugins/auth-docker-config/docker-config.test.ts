import { afterAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { DockerConfigCredentials, dockerConfigAuth } from '../../../plugins/auth-docker-config/index.ts';

afterAll(removeTempDirs);

function configDir(cfg: unknown): string {
  const dir = tempDir('eb-dockercfg-');
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  return dir;
}

describe('auth plugin docker-config', () => {
  test('auths: base64 auth, username/password, identitytoken, Hub key', async () => {
    const dir = configDir({
      auths: {
        '127.0.0.1:5000': { auth: Buffer.from('alice:pa:ss').toString('base64') },
        'http://reg.example:8080/v2/': { username: 'bob', password: 'pw' },
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:tok').toString('base64') },
        'ghcr.io': { identitytoken: 'refresh-123' },
      },
    });
    const c = new DockerConfigCredentials(join(dir, 'config.json'));
    expect(await c.get('127.0.0.1:5000')).toEqual({ username: 'alice', password: 'pa:ss' });
    expect(await c.get('reg.example:8080')).toEqual({ username: 'bob', password: 'pw' });
    expect(await c.get('docker.io')).toEqual({ username: 'hub', password: 'tok' });
    expect(await c.get('ghcr.io')).toEqual({ identityToken: 'refresh-123', username: undefined });
    expect(await c.get('other:1')).toBeUndefined();
  });

  test('credHelpers and credsStore run docker-credential-<name> get with the host on stdin', async () => {
    const dir = configDir({ credHelpers: { '127.0.0.1:6000': 'ebtest' }, credsStore: 'ebtest' });
    const bin = tempDir('eb-bin-');
    const helper = join(bin, 'docker-credential-ebtest');
    writeFileSync(
      helper,
      `#!/bin/sh
read host
case "$host" in
  127.0.0.1:6000) echo '{"ServerURL":"127.0.0.1:6000","Username":"helper-user","Secret":"s3"}' ;;
  https://index.docker.io/v1/) echo '{"ServerURL":"x","Username":"<token>","Secret":"idtok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`,
    );
    chmodSync(helper, 0o755);
    const oldPath = process.env.PATH;
    process.env.PATH = `${bin}:${oldPath}`;
    try {
      const c = new DockerConfigCredentials(join(dir, 'config.json'));
      expect(await c.get('127.0.0.1:6000')).toEqual({ username: 'helper-user', password: 's3' });
      expect(await c.get('docker.io')).toEqual({ identityToken: 'idtok' });
      expect(await c.get('nowhere:1')).toBeUndefined();
    } finally {
      process.env.PATH = oldPath;
    }
  });

  test('a missing helper and a malformed file are errors naming them', async () => {
    const dir = configDir({ credHelpers: { 'h:1': 'does-not-exist-eb' } });
    await expect(new DockerConfigCredentials(join(dir, 'config.json')).get('h:1')).rejects.toThrow(/docker-credential-does-not-exist-eb/);
    const bad = tempDir('eb-dockercfg-');
    writeFileSync(join(bad, 'config.json'), '{"auths": {"x": {"auth": 5}}}');
    const init = () => dockerConfigAuth.init({ config: { path: join(bad, 'config.json') } } as never);
    expect(init).toThrow(`${join(bad, 'config.json')}: auths.x.auth`);
  });

  test('registration: kind auth, id docker-config, DOCKER_CONFIG honoured, missing file means no credentials', async () => {
    expect([dockerConfigAuth.kind, dockerConfigAuth.id]).toEqual(['auth', 'docker-config']);
    const dir = configDir({ auths: { 'a:1': { username: 'u', password: 'p' } } });
    const old = process.env.DOCKER_CONFIG;
    process.env.DOCKER_CONFIG = dir;
    try {
      const inst = await dockerConfigAuth.init({ config: {} } as never);
      expect(await inst.get('a:1')).toEqual({ username: 'u', password: 'p' });
      process.env.DOCKER_CONFIG = join(dir, 'nope');
      const none = await dockerConfigAuth.init({ config: {} } as never);
      expect(await none.get('a:1')).toBeUndefined();
    } finally {
      if (old === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = old;
    }
  });
});
