// End to end over this area: the test images unpack with the overlay snapshotter (diffIDs as in
// their configs) and run with runc.
import { afterAll, describe, expect, test } from 'bun:test';
import { createReadStream, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { DirSnapshotter } from '../../../core/layer/dir-snapshotter.ts';
import { RuncExecutor } from '../../../plugins/executor-runc/executor.ts';
import { overlayDriver } from '../../../plugins/snapshotter-overlay/driver.ts';
import { testImage, type TestImageName } from '../../harness/images.ts';

const work = mkdtempSync(join(tmpdir(), 'eb-images-'));
afterAll(() => rmSync(work, { recursive: true, force: true }), 120_000);

const blob = (layout: string, digest: string) => join(layout, 'blobs/sha256', digest.slice('sha256:'.length));
const json = (p: string) => JSON.parse(readFileSync(p, 'utf8'));

async function unpackAndRun(name: TestImageName, args: string[]): Promise<string> {
  const layout = await testImage(name);
  const index = json(join(layout, 'index.json'));
  const manifest = json(blob(layout, index.manifests[0].digest));
  const config = json(blob(layout, manifest.config.digest));
  const sn = new DirSnapshotter(join(work, name, 'snap'), overlayDriver());
  let parent: string | undefined;
  for (const [i, l] of manifest.layers.entries()) {
    const tar = Readable.from(createReadStream(blob(layout, l.digest)).pipe(createGunzip()));
    const { diffID } = await sn.applyLayer(`layer-${i}`, parent, tar);
    expect(diffID).toBe(config.rootfs.diff_ids[i]);
    parent = `layer-${i}`;
  }
  const exec = new RuncExecutor({ runc: '/usr/sbin/runc', root: join(work, name, 'runc') });
  let out = '';
  const r = await exec.run({
    args,
    env: config.config.Env,
    cwd: '/',
    user: 'root',
    network: 'none',
    mounts: [{ destination: '/', mounts: await sn.prepare('run', parent) }],
    stdout: (c) => (out += new TextDecoder().decode(c)),
    stderr: (c) => (out += new TextDecoder().decode(c)),
  });
  expect(r.exitCode).toBe(0);
  return out;
}

describe('test images', () => {
  test('[slow] debian-base unpacks and runs', async () => {
    expect(await unpackAndRun('debian-base', ['cat', '/etc/debian_version'])).toMatch(/^12\./);
  }, 600_000);

  test('[slow] python has python3', async () => {
    expect(await unpackAndRun('python', ['python3', '-c', 'print(6*7)'])).toBe('42\n');
  }, 600_000);

  test('[slow] golang has a working go toolchain', async () => {
    expect(await unpackAndRun('golang', ['go', 'version'])).toMatch(/^go version go1\.\d+/);
  }, 600_000);
});
