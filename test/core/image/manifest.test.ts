import { describe, expect, test } from 'bun:test';
import { parseManifest, assertImageManifest } from '../../../core/image/manifest.ts';
import { MediaType, layerCompression } from '../../../core/image/media-types.ts';
import { isEstargz, estargzInfo } from '../../../core/image/estargz.ts';
import { parseImageConfig } from '../../../core/image/config.ts';

const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const D = (mediaType: string, n = 1, extra = {}) => ({ mediaType, digest: 'sha256:' + String(n).repeat(64).slice(0, 64), size: 10, ...extra });

describe('manifest parsing', () => {
  test('OCI manifest by content type, Docker list by its own mediaType field', () => {
    const m = parseManifest(enc({ schemaVersion: 2, config: D(MediaType.ociConfig), layers: [D(MediaType.ociLayerGzip, 2)] }), MediaType.ociManifest, 'x');
    expect(m.kind).toBe('manifest');
    const l = parseManifest(enc({ schemaVersion: 2, mediaType: MediaType.dockerManifestList, manifests: [D(MediaType.dockerManifest, 3, { platform: { os: 'linux', architecture: 'amd64' } })] }), 'application/json', 'x');
    expect(l).toMatchObject({ kind: 'index', mediaType: MediaType.dockerManifestList });
  });
  test('media type inferred from shape when absent', () => {
    expect(parseManifest(enc({ schemaVersion: 2, manifests: [] }), undefined, 'x').mediaType).toBe(MediaType.ociIndex);
  });
  test('unsupported media types name the type and the ref', () => {
    expect(() => parseManifest(enc({ schemaVersion: 1, name: 'x' }), MediaType.dockerSchema1Signed, 'reg/app:1')).toThrow(`reg/app:1: unsupported manifest media type "${MediaType.dockerSchema1Signed}"`);
    const m = parseManifest(enc({ schemaVersion: 2, config: D(MediaType.ociConfig), layers: [D('application/x-weird', 2)] }), MediaType.ociManifest, 'reg/app:1');
    if (m.kind !== 'manifest') throw new Error('kind');
    expect(() => assertImageManifest(m.manifest, 'reg/app:1')).toThrow('reg/app:1: unsupported layer media type "application/x-weird"');
    const h = parseManifest(enc({ schemaVersion: 2, config: { ...D('application/vnd.cncf.helm.config.v1+json') }, layers: [] }), MediaType.ociManifest, 'reg/chart:1');
    if (h.kind !== 'manifest') throw new Error('kind');
    expect(() => assertImageManifest(h.manifest, 'reg/chart:1')).toThrow(/unsupported config media type/);
  });
  test('schema violations are one line naming the field', () => {
    expect(() => parseManifest(enc({ schemaVersion: 2, config: D(MediaType.ociConfig), layers: [{ ...D(MediaType.ociLayerGzip), digest: 'nope' }] }), MediaType.ociManifest, 'r')).toThrow(/^r: invalid .*layers\.0\.digest/);
    expect(() => parseManifest(new TextEncoder().encode('{'), MediaType.ociManifest, 'r')).toThrow('r: manifest is not valid JSON');
  });
  test('layer compression', () => {
    expect(layerCompression(MediaType.dockerLayerGzip)).toBe('gzip');
    expect(layerCompression(MediaType.ociLayerZstd)).toBe('zstd');
    expect(layerCompression(MediaType.ociLayer)).toBe('none');
    expect(layerCompression('text/plain')).toBeUndefined();
  });
  test('eStargz annotations', () => {
    const annotations = { 'containerd.io/snapshot/stargz/toc.digest': 'sha256:' + 'e'.repeat(64), 'io.containers.estargz.uncompressed-size': '1234' };
    expect(isEstargz({ annotations })).toBe(true);
    expect(isEstargz({})).toBe(false);
    expect(estargzInfo({ annotations })).toEqual({ tocDigest: 'sha256:' + 'e'.repeat(64), uncompressedSize: 1234 });
  });
  test('image config', () => {
    const c = parseImageConfig(enc({ architecture: 'amd64', os: 'linux', config: { Env: ['A=1'], Cmd: null }, rootfs: { type: 'layers', diff_ids: [] } }), 'sha256:x');
    expect(c.config?.Env).toEqual(['A=1']);
    expect(() => parseImageConfig(enc({ os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }), 'sha256:abc')).toThrow(/^config sha256:abc: architecture/);
  });
});
