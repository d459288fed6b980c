import { describe, expect, test } from 'bun:test';
import { ProtoWriter, ProtobufError, asInt64, readFields } from '../../../core/grpc/protobuf.ts';
import * as M from '../../../core/grpc/snapshots-messages.ts';
import { FrameDecoder, encodeFrame } from '../../../core/grpc/frame.ts';
import { GrpcError, decodeGrpcMessage, encodeGrpcMessage } from '../../../core/grpc/status.ts';

const info: M.PbInfo = {
  name: 'default/3/sha256:abc',
  parent: 'default/2/sha256:def',
  kind: M.KIND.committed,
  createdAt: { seconds: 1_700_000_000, nanos: 123_000_000 },
  updatedAt: { seconds: 1_700_000_001, nanos: 0 },
  labels: { 'containerd.io/snapshot.ref': 'sha256:abc', empty: '', 'ünïcode': 'välue' },
};

describe('snapshots messages round-trip', () => {
  const cases: [string, M.Codec<any>, unknown][] = [
    ['Mount', M.MountCodec, { type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/a:/b', 'upperdir=/u', 'workdir=/w', ''] }],
    ['PrepareSnapshotRequest', M.PrepareRequestCodec, { snapshotter: 'edgebuild', key: 'extract-1 sha256:x', parent: 'p', labels: { a: 'b', 'containerd.io/snapshot/remote/stargz.digest': 'sha256:' + '0'.repeat(64) } }],
    ['ViewSnapshotRequest', M.ViewRequestCodec, { snapshotter: '', key: 'k', parent: '', labels: {} }],
    ['MountsResponse', M.MountsResponseCodec, { mounts: [{ type: 'bind', source: '/x', target: '', options: ['ro', 'rbind'] }, { type: '', source: '', target: '', options: [] }] }],
    ['key request', M.KeyRequestCodec, { snapshotter: 's', key: 'k' }],
    ['CommitSnapshotRequest', M.CommitRequestCodec, { snapshotter: 's', name: 'n', key: 'k', labels: { x: 'y' } }],
    ['Info', M.InfoCodec, info],
    ['StatSnapshotResponse', M.InfoResponseCodec, { info }],
    ['UpdateSnapshotRequest', M.UpdateRequestCodec, { snapshotter: 's', info, updateMask: ['labels.a', 'labels'] }],
    ['ListSnapshotsRequest', M.ListRequestCodec, { snapshotter: 's', filters: ['kind==committed', 'labels."a.b"==c'] }],
    ['ListSnapshotsResponse', M.ListResponseCodec, { info: [info, { ...info, name: 'x', kind: M.KIND.active }] }],
    ['UsageResponse', M.UsageResponseCodec, { size: 2 ** 40 + 7, inodes: 12345 }],
    ['CleanupRequest', M.SnapshotterRequestCodec, { snapshotter: 'edgebuild' }],
    ['Empty', M.Empty, {}],
  ];
  for (const [name, codec, value] of cases) {
    test(name, () => {
      expect(codec.decode(codec.encode(value))).toEqual(value);
    });
  }

  test('the empty Info keeps its non-nullable timestamps on the wire', () => {
    const bytes = M.InfoResponseCodec.encode({ info: M.InfoCodec.decode(new Uint8Array(0)) });
    // field 1 (info) present, holding fields 4 and 5 (created_at, updated_at) as empty messages
    expect([...bytes]).toEqual([0x0a, 4, 0x22, 0, 0x2a, 0]);
  });

  test('bytes match protobuf encoding of a known message', () => {
    // UsageResponse{size: 300, inodes: 1}: 08 ac 02 10 01
    expect([...M.UsageResponseCodec.encode({ size: 300, inodes: 1 })]).toEqual([0x08, 0xac, 0x02, 0x10, 0x01]);
  });

  test('unknown fields of every wire type are skipped', () => {
    const w = new ProtoWriter().string(2, 'key').int(99, 5).string(100, 'x').finish();
    const fixed = new Uint8Array([...w, (7 << 3) | 1, 1, 2, 3, 4, 5, 6, 7, 8, (8 << 3) | 5, 1, 2, 3, 4]);
    expect(M.KeyRequestCodec.decode(fixed)).toEqual({ snapshotter: '', key: 'key' });
  });

  test('map keys such as __proto__ stay plain data', () => {
    const labels = M.PrepareRequestCodec.decode(M.PrepareRequestCodec.encode({ snapshotter: '', key: 'k', parent: '', labels: { __proto__x: '1' } })).labels;
    const raw = new ProtoWriter().message(4, new ProtoWriter().string(1, '__proto__').string(2, 'polluted').finish()).finish();
    const m = M.PrepareRequestCodec.decode(raw);
    expect(Object.getPrototypeOf(m.labels)).toBe(Object.prototype);
    expect(m.labels['__proto__']).toBe('polluted');
    expect(labels.__proto__x).toBe('1');
  });
});

describe('varints and lengths', () => {
  test('int64 extremes and negatives', () => {
    for (const n of [1, 127, 128, 16383, 16384, 2 ** 31, 2 ** 53 - 1, -1, -(2 ** 53 - 1)]) {
      const f = readFields(new ProtoWriter().int(1, n).finish(), 't');
      expect(asInt64(f[0], 't')).toBe(n);
    }
    // a negative int64 takes ten bytes
    expect(new ProtoWriter().int(1, -1).finish().length).toBe(11);
  });

  test('values beyond 2^53 are refused, not rounded', () => {
    const f = readFields(new ProtoWriter().int(1, 2n ** 60n).finish(), 'UsageResponse');
    expect(() => asInt64(f[0], 'UsageResponse.size')).toThrow('beyond 2^53');
  });

  const bad: [string, number[], string][] = [
    ['truncated varint', [0x08, 0x80], 'truncated varint'],
    ['varint of 11 bytes', [0x08, ...Array(10).fill(0xff), 0x01], 'longer than 10 bytes'],
    ['length past the end', [0x12, 0x05, 0x61], 'exceeds the 1 bytes left'],
    ['huge length', [0x12, 0xff, 0xff, 0xff, 0xff, 0x0f], 'exceeds'],
    ['field number 0', [0x00, 0x01], 'field number 0'],
    ['wire type 3 (groups)', [0x0b], 'unsupported wire type 3'],
    ['truncated fixed64', [0x09, 1, 2], 'wants 8 bytes'],
  ];
  for (const [name, bytes, msg] of bad) {
    test(`malformed: ${name}`, () => {
      expect(() => M.KeyRequestCodec.decode(new Uint8Array(bytes))).toThrow(msg);
      expect(() => M.KeyRequestCodec.decode(new Uint8Array(bytes))).toThrow(ProtobufError);
    });
  }

  test('a string field with a varint wire type is an error naming the field', () => {
    expect(() => M.KeyRequestCodec.decode(new Uint8Array([0x10, 0x01]))).toThrow('field 2 has wire type 0, expected 2');
  });

  test('invalid UTF-8 in a string is an error', () => {
    expect(() => M.KeyRequestCodec.decode(new Uint8Array([0x12, 0x02, 0xc3, 0x28]))).toThrow('not valid UTF-8');
  });

  test('an unknown kind is an error', () => {
    expect(() => M.InfoCodec.decode(new ProtoWriter().int(3, 9).finish())).toThrow('unknown kind 9');
  });
});

describe('gRPC frames', () => {
  test('split anywhere, frames come out whole', () => {
    const msgs = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(7)];
    const wire = Buffer.concat(msgs.map(encodeFrame));
    for (const step of [1, 4, 5, 6, 1000, wire.length]) {
      const d = new FrameDecoder('test');
      const out: Uint8Array[] = [];
      for (let i = 0; i < wire.length; i += step) out.push(...d.push(wire.subarray(i, i + step)));
      d.end();
      expect(out.map((m) => m.length)).toEqual([3, 0, 70_000]);
    }
  });

  test('compressed flag, bad flag, oversize and truncation are errors', () => {
    expect(() => new FrameDecoder('req').push(new Uint8Array([1, 0, 0, 0, 0]))).toThrow('compressed message');
    expect(() => new FrameDecoder('req').push(new Uint8Array([7, 0, 0, 0, 0]))).toThrow('flag byte 7');
    expect(() => new FrameDecoder('req', 10).push(new Uint8Array([0, 0, 0, 0, 11]))).toThrow('exceeds the 10-byte limit');
    const d = new FrameDecoder('req');
    d.push(new Uint8Array([0, 0, 0, 0, 4, 1]));
    expect(() => d.end()).toThrow(GrpcError);
  });

  test('grpc-message percent-encoding round-trips', () => {
    const m = 'snapshot "a b" 100% gone — ü\n';
    const enc = encodeGrpcMessage(m);
    expect(enc).not.toContain('\n');
    expect(decodeGrpcMessage(enc)).toBe(m);
  });
});
