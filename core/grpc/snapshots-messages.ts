// The messages of containerd's snapshots service (api/services/snapshots/v1/snapshots.proto) and
// containerd.types.Mount (api/types/mount.proto), encoded and decoded by hand. Field numbers are
// the .proto's; unknown fields are skipped, as protobuf requires.
import { ProtoWriter, ProtobufError, asInt32, asInt64, asString, asBytes, readFields, readMapEntry } from './protobuf.ts';

export const SNAPSHOTS_SERVICE = 'containerd.services.snapshots.v1.Snapshots';

export interface PbMount {
  type: string;
  source: string;
  target: string;
  options: string[];
}

export interface PrepareRequest {
  snapshotter: string;
  key: string;
  parent: string;
  labels: Record<string, string>;
}
/** View takes the same fields as Prepare. */
export type ViewRequest = PrepareRequest;

export interface MountsResponse {
  mounts: PbMount[];
}

/** Mounts, Remove, Stat and Usage requests: snapshotter + key. */
export interface KeyRequest {
  snapshotter: string;
  key: string;
}

export interface CommitRequest {
  snapshotter: string;
  name: string;
  key: string;
  labels: Record<string, string>;
}

export const KIND = { unknown: 0, view: 1, active: 2, committed: 3 } as const;
export type PbKind = (typeof KIND)[keyof typeof KIND];

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface PbInfo {
  name: string;
  parent: string;
  kind: PbKind;
  createdAt: Timestamp;
  updatedAt: Timestamp;
  labels: Record<string, string>;
}

export interface InfoResponse {
  info: PbInfo;
}

export interface UpdateRequest {
  snapshotter: string;
  info: PbInfo;
  /** google.protobuf.FieldMask paths, e.g. "labels.foo"; empty: every mutable field. */
  updateMask: string[];
}

export interface ListRequest {
  snapshotter: string;
  filters: string[];
}

export interface ListResponse {
  info: PbInfo[];
}

export interface UsageResponse {
  size: number;
  inodes: number;
}

export interface SnapshotterRequest {
  snapshotter: string;
}

export interface Codec<T> {
  encode(m: T): Uint8Array;
  decode(b: Uint8Array): T;
}

const EMPTY = new Uint8Array(0);

export const Empty: Codec<Record<string, never>> = {
  encode: () => EMPTY,
  decode: (b) => {
    readFields(b, 'google.protobuf.Empty');
    return {};
  },
};

export const MountCodec: Codec<PbMount> = {
  encode: (m) => new ProtoWriter().string(1, m.type).string(2, m.source).string(3, m.target).strings(4, m.options).finish(),
  decode(b) {
    const m: PbMount = { type: '', source: '', target: '', options: [] };
    for (const f of readFields(b, 'Mount')) {
      if (f.field === 1) m.type = asString(f, 'Mount.type');
      else if (f.field === 2) m.source = asString(f, 'Mount.source');
      else if (f.field === 3) m.target = asString(f, 'Mount.target');
      else if (f.field === 4) m.options.push(asString(f, 'Mount.options'));
    }
    return m;
  },
};

function prepareLike(name: string): Codec<PrepareRequest> {
  return {
    encode: (m) => new ProtoWriter().string(1, m.snapshotter).string(2, m.key).string(3, m.parent).map(4, m.labels).finish(),
    decode(b) {
      const m: PrepareRequest = { snapshotter: '', key: '', parent: '', labels: {} };
      for (const f of readFields(b, name)) {
        if (f.field === 1) m.snapshotter = asString(f, `${name}.snapshotter`);
        else if (f.field === 2) m.key = asString(f, `${name}.key`);
        else if (f.field === 3) m.parent = asString(f, `${name}.parent`);
        else if (f.field === 4) readMapEntry(f, m.labels, `${name}.labels`);
      }
      return m;
    },
  };
}
export const PrepareRequestCodec = prepareLike('PrepareSnapshotRequest');
export const ViewRequestCodec = prepareLike('ViewSnapshotRequest');

export const MountsResponseCodec: Codec<MountsResponse> = {
  encode(m) {
    const w = new ProtoWriter();
    for (const mt of m.mounts) w.message(1, MountCodec.encode(mt), true);
    return w.finish();
  },
  decode(b) {
    return { mounts: readFields(b, 'MountsResponse').filter((f) => f.field === 1).map((f) => MountCodec.decode(asBytes(f, 'MountsResponse.mounts'))) };
  },
};

export const KeyRequestCodec: Codec<KeyRequest> = {
  encode: (m) => new ProtoWriter().string(1, m.snapshotter).string(2, m.key).finish(),
  decode(b) {
    const m: KeyRequest = { snapshotter: '', key: '' };
    for (const f of readFields(b, 'snapshot key request')) {
      if (f.field === 1) m.snapshotter = asString(f, 'request.snapshotter');
      else if (f.field === 2) m.key = asString(f, 'request.key');
    }
    return m;
  },
};

export const CommitRequestCodec: Codec<CommitRequest> = {
  encode: (m) => new ProtoWriter().string(1, m.snapshotter).string(2, m.name).string(3, m.key).map(4, m.labels).finish(),
  decode(b) {
    const m: CommitRequest = { snapshotter: '', name: '', key: '', labels: {} };
    for (const f of readFields(b, 'CommitSnapshotRequest')) {
      if (f.field === 1) m.snapshotter = asString(f, 'CommitSnapshotRequest.snapshotter');
      else if (f.field === 2) m.name = asString(f, 'CommitSnapshotRequest.name');
      else if (f.field === 3) m.key = asString(f, 'CommitSnapshotRequest.key');
      else if (f.field === 4) readMapEntry(f, m.labels, 'CommitSnapshotRequest.labels');
    }
    return m;
  },
};

export const TimestampCodec: Codec<Timestamp> = {
  encode: (t) => new ProtoWriter().int(1, t.seconds).int(2, t.nanos).finish(),
  decode(b) {
    const t: Timestamp = { seconds: 0, nanos: 0 };
    for (const f of readFields(b, 'Timestamp')) {
      if (f.field === 1) t.seconds = asInt64(f, 'Timestamp.seconds');
      else if (f.field === 2) t.nanos = asInt32(f, 'Timestamp.nanos');
    }
    if (t.nanos < 0 || t.nanos > 999_999_999) throw new ProtobufError(`Timestamp: nanos ${t.nanos} out of range`);
    return t;
  },
};

export const InfoCodec: Codec<PbInfo> = {
  encode: (m) =>
    new ProtoWriter()
      .string(1, m.name)
      .string(2, m.parent)
      .int(3, m.kind)
      .message(4, TimestampCodec.encode(m.createdAt), true)
      .message(5, TimestampCodec.encode(m.updatedAt), true)
      .map(6, m.labels)
      .finish(),
  decode(b) {
    const m: PbInfo = { name: '', parent: '', kind: KIND.unknown, createdAt: { seconds: 0, nanos: 0 }, updatedAt: { seconds: 0, nanos: 0 }, labels: {} };
    for (const f of readFields(b, 'Info')) {
      if (f.field === 1) m.name = asString(f, 'Info.name');
      else if (f.field === 2) m.parent = asString(f, 'Info.parent');
      else if (f.field === 3) {
        const k = asInt32(f, 'Info.kind');
        if (k < 0 || k > 3) throw new ProtobufError(`Info.kind: unknown kind ${k}`);
        m.kind = k as PbKind;
      } else if (f.field === 4) m.createdAt = TimestampCodec.decode(asBytes(f, 'Info.created_at'));
      else if (f.field === 5) m.updatedAt = TimestampCodec.decode(asBytes(f, 'Info.updated_at'));
      else if (f.field === 6) readMapEntry(f, m.labels, 'Info.labels');
    }
    return m;
  },
};

const emptyInfo = (): PbInfo => InfoCodec.decode(EMPTY);

export const InfoResponseCodec: Codec<InfoResponse> = {
  encode: (m) => new ProtoWriter().message(1, InfoCodec.encode(m.info), true).finish(),
  decode(b) {
    let info = emptyInfo();
    for (const f of readFields(b, 'StatSnapshotResponse')) if (f.field === 1) info = InfoCodec.decode(asBytes(f, 'StatSnapshotResponse.info'));
    return { info };
  },
};

export const UpdateRequestCodec: Codec<UpdateRequest> = {
  encode: (m) =>
    new ProtoWriter()
      .string(1, m.snapshotter)
      .message(2, InfoCodec.encode(m.info), true)
      .message(3, m.updateMask.length ? new ProtoWriter().strings(1, m.updateMask).finish() : undefined)
      .finish(),
  decode(b) {
    const m: UpdateRequest = { snapshotter: '', info: emptyInfo(), updateMask: [] };
    for (const f of readFields(b, 'UpdateSnapshotRequest')) {
      if (f.field === 1) m.snapshotter = asString(f, 'UpdateSnapshotRequest.snapshotter');
      else if (f.field === 2) m.info = InfoCodec.decode(asBytes(f, 'UpdateSnapshotRequest.info'));
      else if (f.field === 3) {
        for (const p of readFields(asBytes(f, 'UpdateSnapshotRequest.update_mask'), 'FieldMask')) if (p.field === 1) m.updateMask.push(asString(p, 'FieldMask.paths'));
      }
    }
    return m;
  },
};

export const ListRequestCodec: Codec<ListRequest> = {
  encode: (m) => new ProtoWriter().string(1, m.snapshotter).strings(2, m.filters).finish(),
  decode(b) {
    const m: ListRequest = { snapshotter: '', filters: [] };
    for (const f of readFields(b, 'ListSnapshotsRequest')) {
      if (f.field === 1) m.snapshotter = asString(f, 'ListSnapshotsRequest.snapshotter');
      else if (f.field === 2) m.filters.push(asString(f, 'ListSnapshotsRequest.filters'));
    }
    return m;
  },
};

export const ListResponseCodec: Codec<ListResponse> = {
  encode(m) {
    const w = new ProtoWriter();
    for (const i of m.info) w.message(1, InfoCodec.encode(i), true);
    return w.finish();
  },
  decode(b) {
    return { info: readFields(b, 'ListSnapshotsResponse').filter((f) => f.field === 1).map((f) => InfoCodec.decode(asBytes(f, 'ListSnapshotsResponse.info'))) };
  },
};

export const UsageResponseCodec: Codec<UsageResponse> = {
  encode: (m) => new ProtoWriter().int(1, m.size).int(2, m.inodes).finish(),
  decode(b) {
    const m: UsageResponse = { size: 0, inodes: 0 };
    for (const f of readFields(b, 'UsageResponse')) {
      if (f.field === 1) m.size = asInt64(f, 'UsageResponse.size');
      else if (f.field === 2) m.inodes = asInt64(f, 'UsageResponse.inodes');
    }
    return m;
  },
};

export const SnapshotterRequestCodec: Codec<SnapshotterRequest> = {
  encode: (m) => new ProtoWriter().string(1, m.snapshotter).finish(),
  decode(b) {
    const m: SnapshotterRequest = { snapshotter: '' };
    for (const f of readFields(b, 'CleanupRequest')) if (f.field === 1) m.snapshotter = asString(f, 'CleanupRequest.snapshotter');
    return m;
  },
};
