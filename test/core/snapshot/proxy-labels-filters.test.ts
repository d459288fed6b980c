import { describe, expect, test } from 'bun:test';
import { snapshotFilter } from '../../../core/snapshot/proxy-filters.ts';
import { remoteLabelsFor, remoteSourceOf } from '../../../core/snapshot/remote-labels.ts';
import type { SnapshotInfo } from '../../../core/snapshot/types.ts';

const root: SnapshotInfo = { key: 'default/1/sha256:aa', kind: 'committed', labels: { 'containerd.io/snapshot.ref': 'sha256:aa' }, created: '' };
const child: SnapshotInfo = { key: 'default/2/sha256:bb', parent: 'default/1/sha256:aa', kind: 'active', labels: { 'a.b': 'x' }, created: '' };

describe('List filters (containerd syntax)', () => {
  test("containerd's remote-snapshot lookup, for a root and a child", () => {
    const f = snapshotFilter([`labels."containerd.io/snapshot.ref"==sha256:aa,parent==""`]);
    expect([root, child].filter(f)).toEqual([root]);
    expect([root, child].filter(snapshotFilter([`parent=="default/1/sha256:aa"`]))).toEqual([child]);
  });
  test('presence, !=, ~=, alternatives, no filters', () => {
    expect([root, child].filter(snapshotFilter(['labels."a.b"']))).toEqual([child]);
    expect([root, child].filter(snapshotFilter(['kind!=committed']))).toEqual([child]);
    expect([root, child].filter(snapshotFilter(['name~=^default/1/']))).toEqual([root]);
    expect([root, child].filter(snapshotFilter(['kind==view', 'kind==active']))).toEqual([child]);
    expect([root, child].filter(snapshotFilter([]))).toEqual([root, child]);
  });
  test('syntax errors name the filter and column', () => {
    expect(() => snapshotFilter(['size==1'])).toThrow('unknown field "size"');
    expect(() => snapshotFilter(['labels."a==b'])).toThrow('unterminated quote');
    expect(() => snapshotFilter(['name~=('])).toThrow('invalid regular expression');
  });
});

describe('remote-snapshot labels', () => {
  const digest = `sha256:${'d'.repeat(64)}`;
  const toc = `sha256:${'e'.repeat(64)}`;
  test('stargz-snapshotter labels (ctr-remote rpull) give the layer source', () => {
    const src = remoteSourceOf({
      'containerd.io/snapshot.ref': 'sha256:chain',
      'containerd.io/snapshot/remote/stargz.reference': '127.0.0.1:5000/debian:esgz',
      'containerd.io/snapshot/remote/stargz.digest': digest,
      'containerd.io/snapshot/remote/stargz.layers': digest,
      'containerd.io/snapshot/stargz/toc.digest': toc,
    });
    expect(src).toMatchObject({ target: 'sha256:chain', registry: '127.0.0.1:5000', repository: 'debian', digest, tocDigest: toc, size: undefined });
  });
  test('CRI labels work too; without a target or a reference it is not remote', () => {
    expect(remoteSourceOf({ 'containerd.io/snapshot.ref': 't', 'containerd.io/snapshot/cri.image-ref': 'docker.io/library/alpine:3', 'containerd.io/snapshot/cri.layer-digest': digest })?.repository).toBe('library/alpine');
    expect(remoteSourceOf({ 'containerd.io/snapshot/cri.image-ref': 'alpine', 'containerd.io/snapshot/cri.layer-digest': digest })).toBeUndefined();
    expect(remoteSourceOf({ 'containerd.io/snapshot.ref': 't' })).toBeUndefined();
  });
  test('malformed labels are errors naming the label', () => {
    expect(() => remoteSourceOf({ 'containerd.io/snapshot.ref': 't', 'containerd.io/snapshot/remote/stargz.reference': 'x', 'containerd.io/snapshot/remote/stargz.digest': 'md5:1' })).toThrow('label containerd.io/snapshot/remote/stargz.digest');
    expect(() => remoteSourceOf({ 'containerd.io/snapshot.ref': 't', 'containerd.io/snapshot/remote/stargz.reference': 'bad ref', 'containerd.io/snapshot/remote/stargz.digest': digest })).toThrow('label containerd.io/snapshot/remote/stargz.reference');
  });
  test("edgebuild's client labels round-trip through the server's parser", () => {
    const labels = remoteLabelsFor('chain', { imageRef: 'r', registry: 'reg.example:5000', repository: 'a/b', descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: 1234, annotations: { 'containerd.io/snapshot/stargz/toc.digest': toc } }, diffID: toc });
    expect(remoteSourceOf(labels)).toEqual({ target: 'chain', imageRef: `reg.example:5000/a/b@${digest}`, registry: 'reg.example:5000', repository: 'a/b', digest, tocDigest: toc, size: 1234, mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', diffID: toc });
  });
});
