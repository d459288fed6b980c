import { afterAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTransport, describeTransport } from '../../../core/image/transports.ts';
import { OciLayout, REF_NAME_ANNOTATION } from '../../../core/image/oci-layout.ts';
import { digestOf } from '../../../core/content/digest.ts';

afterAll(removeTempDirs);

describe('transports', () => {
  test('parse docker:// and oci:DIR[:TAG]', () => {
    expect(parseTransport('docker://alpine')).toEqual({ kind: 'docker', ref: { registry: 'docker.io', repository: 'library/alpine', tag: 'latest', digest: undefined } });
    expect(parseTransport('oci:/tmp/x:v1')).toEqual({ kind: 'oci', dir: '/tmp/x', tag: 'v1' });
    expect(parseTransport('oci:/tmp/x')).toEqual({ kind: 'oci', dir: '/tmp/x', tag: undefined });
    expect(parseTransport('oci:rel/dir:tag')).toEqual({ kind: 'oci', dir: 'rel/dir', tag: 'tag' });
    expect(describeTransport(parseTransport('docker://127.0.0.1:5000/a:1'))).toBe('docker://127.0.0.1:5000/a:1');
    expect(() => parseTransport('oci:')).toThrow('"oci:": oci: needs a directory');
    expect(() => parseTransport('oci:/x:bad tag')).toThrow('invalid tag "bad tag"');
    expect(() => parseTransport('docker-daemon:x')).toThrow(/unknown transport/);
    expect(() => parseTransport('docker://UPPER')).toThrow(/lowercase/);
  });
});

describe('OCI layout', () => {
  test('blobs are verified; tags replace older entries; index.json is valid', async () => {
    const dir = tempDir('eb-layout-');
    const l = new OciLayout(dir);
    l.init();
    const bytes = new TextEncoder().encode('{"x":1}');
    const desc = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(bytes), size: bytes.length };
    await expect(l.writeBlob({ ...desc, digest: digestOf('other') }, [bytes])).rejects.toThrow(/content has digest/);
    await l.writeBlob(desc, [bytes]);
    await l.setRef(desc, 'a');
    await l.setRef(desc, 'b');
    await l.setRef(desc, 'a');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    expect(index.manifests.map((m: { annotations: Record<string, string> }) => m.annotations[REF_NAME_ANNOTATION])).toEqual(['b', 'a']);
    expect((await l.resolve('a')).digest).toBe(desc.digest);
    await expect(l.resolve()).rejects.toThrow(`oci:${dir}: 2 images in index.json; name one as oci:${dir}:TAG`);
    await expect(l.resolve('zz')).rejects.toThrow(`oci:${dir}:zz: no image with that tag in index.json`);
    expect(JSON.parse(readFileSync(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
  });
});
