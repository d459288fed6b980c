// A TLS registry with a self-signed certificate: trusted through `ca`, or `insecure`; refused otherwise.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { removeTempDirs } from '../../harness/temp-dir.ts';
import { startRegistry, type TestRegistry } from '../../harness/registry.ts';
import { buildImage, skopeoOk, type BuiltImage } from '../../harness/registry-images.ts';
import { testContext } from '../../harness/command-context.ts';
import { pullCommand } from '../../../cli/commands/pull.ts';
import { RegistryClient } from '../../../core/registry/client.ts';

afterAll(removeTempDirs);

describe('TLS registries', () => {
  let reg: TestRegistry;
  let img: BuiltImage;
  beforeAll(async () => {
    reg = await startRegistry({ kind: 'none' }, { tls: true });
    img = await buildImage();
    skopeoOk('copy', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/tls/app:1`);
  });
  afterAll(async () => {
    await reg?.stop();
  });

  test('[slow] ca file makes the self-signed certificate trusted', async () => {
    const ctx = testContext({ registry: { [reg.host]: { ca: [reg.tlsCert!] } } });
    expect(await pullCommand.run([`${reg.host}/tls/app:1`], ctx)).toBe(0);
    expect(ctx.stdout).toEqual([img.top.digest]);
  });

  test('[slow] insecure skips verification', async () => {
    const ctx = testContext({ registry: { [reg.host]: { insecure: true } } });
    expect(await pullCommand.run([`${reg.host}/tls/app:1`], ctx)).toBe(0);
  });

  test('[slow] an untrusted certificate is a one-line TLS error naming the host', async () => {
    const client = new RegistryClient({ retry: { attempts: 1 } });
    const ep = { host: reg.host, base: `https://${reg.host}`, mirror: false };
    const e = await client.transport.request({ ep, registry: reg.host, scopes: [], method: 'GET', path: '/v2/', what: 'ping' }).catch((err) => err);
    expect(e.message).toStartWith(`cannot reach ${reg.host}: TLS error: `);
    expect(e.message).toContain(`[registry."${reg.host}"]`);
    expect(e.message).not.toContain('\n');
  });
});
