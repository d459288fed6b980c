// Serves one Snapshotter over containerd's snapshots gRPC API on a unix socket, so containerd
// (`[proxy_plugins]`) or edgebuild's daemon (--oci-worker-proxy-snapshotter-path) can use it from
// another process. A RemoteSnapshotter also answers containerd's remote-snapshot protocol: a
// Prepare whose labels say where the layer lives is committed lazily and answered ALREADY_EXISTS.
import * as v from 'valibot';
import { startGrpcServer, type CallContext, type GrpcServer } from '../grpc/server.ts';
import { Code, GrpcError } from '../grpc/status.ts';
import {
  CommitRequestCodec,
  Empty,
  InfoResponseCodec,
  KIND,
  KeyRequestCodec,
  ListRequestCodec,
  ListResponseCodec,
  MountsResponseCodec,
  PrepareRequestCodec,
  SNAPSHOTS_SERVICE,
  SnapshotterRequestCodec,
  UpdateRequestCodec,
  UsageResponseCodec,
  ViewRequestCodec,
  type PbInfo,
  type PbMount,
  type Timestamp,
} from '../grpc/snapshots-messages.ts';
import { snapshotFilter } from './proxy-filters.ts';
import { remoteSourceOf, type RemoteSource } from './remote-labels.ts';
import { takeCredentialLease } from './credential-lease.ts';
import { withSessionCredentials } from '../daemon/session-auth.ts';
import type { CredentialSource } from '../registry/credentials.ts';
import { isRemoteSnapshotter, type Mount, type SnapshotInfo, type Snapshotter } from './types.ts';

/** Our own service next to containerd's: per-layer lazy-pull status (JSON), for `edgebuild`. */
export const REMOTE_STATUS_SERVICE = 'edgebuild.snapshots.v1.Remote';
/** Trailer set on a Prepare that carried remote labels but was prepared as an ordinary snapshot. */
export const REMOTE_FALLBACK_TRAILER = 'edgebuild-remote-fallback';

export const RemoteStatusSchema = v.array(
  v.object({ digest: v.string(), imageRef: v.string(), size: v.number(), fetched: v.number(), state: v.string(), lastError: v.optional(v.string()) }),
);

/** Snapshotters that can change labels after creation (containerd's Update). */
export interface LabelUpdater {
  updateLabels(key: string, labels: Record<string, string>, paths: string[]): Promise<SnapshotInfo>;
}

export interface ProxyServerOptions {
  /** Plugin key for messages ("snapshotter.overlay"). */
  name: string;
  /** Size of a blob when the labels do not say (containerd's do not): a HEAD to the registry. */
  blobSize?: (src: RemoteSource) => Promise<number>;
  log?: (message: string) => void;
}

/** Maps a snapshotter's error to the status containerd's errdefs understands. */
export function statusOf(e: unknown): GrpcError {
  if (e instanceof GrpcError) return e;
  const msg = (e as Error)?.message?.split('\n')[0] ?? String(e);
  if (/does not exist/.test(msg)) return new GrpcError(Code.NOT_FOUND, msg);
  if (/already exists/.test(msg)) return new GrpcError(Code.ALREADY_EXISTS, msg);
  if (/has children|is (view|active|committed), expected/.test(msg)) return new GrpcError(Code.FAILED_PRECONDITION, msg);
  if (/must not be empty|^label /.test(msg)) return new GrpcError(Code.INVALID_ARGUMENT, msg);
  return new GrpcError(Code.UNKNOWN, msg);
}

function timestampOf(rfc3339: string): Timestamp {
  const ms = Date.parse(rfc3339);
  if (Number.isNaN(ms)) return { seconds: 0, nanos: 0 };
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

export function infoToPb(i: SnapshotInfo): PbInfo {
  const ts = timestampOf(i.created);
  return { name: i.key, parent: i.parent ?? '', kind: KIND[i.kind], createdAt: ts, updatedAt: ts, labels: i.labels };
}

const toPbMounts = (ms: Mount[]): PbMount[] => ms.map((m) => ({ type: m.type, source: m.source, target: '', options: m.options }));

function requireKey(key: string, field = 'key'): string {
  if (!key) throw new GrpcError(Code.INVALID_ARGUMENT, `${field} must not be empty`);
  return key;
}

export function snapshotsService(sn: Snapshotter, opts: ProxyServerOptions) {
  const log = opts.log ?? (() => {});
  // Labels of containerd's Prepare (snapshot.ref above all: containerd finds the committed target
  // by it) added to snapshots a RemoteSnapshotter committed itself, which takes no labels.
  // In memory: containerd records them in its own metadata right after, so a restart loses nothing.
  const remoteLabels = new Map<string, Record<string, string>>();
  const withRemoteLabels = (i: SnapshotInfo): SnapshotInfo => {
    const extra = remoteLabels.get(i.key);
    return extra ? { ...i, labels: { ...extra, ...i.labels } } : i;
  };
  const wrap =
    <T>(fn: (req: Uint8Array, ctx: CallContext) => Promise<T>, encode: (m: T) => Uint8Array) =>
    async (req: Uint8Array, ctx: CallContext) => {
      try {
        return encode(await fn(req, ctx));
      } catch (e) {
        throw statusOf(e);
      }
    };

  // A call's credential lease (labels, never stored) makes the daemon's credentials for the
  // build visible to the auth plugins while the call runs: lazy mounts it causes use them.
  const leased = <T>(source: CredentialSource | undefined, fn: () => Promise<T>): Promise<T> => (source ? withSessionCredentials(source, fn) : fn());

  /** containerd's remote-snapshot path. Returns true when the target was committed lazily. */
  const prepareRemote = async (key: string, parent: string, src: RemoteSource, labels: Record<string, string>, ctx: CallContext): Promise<boolean> => {
    if (!isRemoteSnapshotter(sn)) {
      ctx.trailers[REMOTE_FALLBACK_TRAILER] = `${opts.name} does not mount layers remotely`;
      return false;
    }
    const existing = await sn.stat(src.target);
    if (existing?.kind === 'committed') {
      remoteLabels.set(src.target, labels);
      return true;
    }
    if (!src.tocDigest) {
      ctx.trailers[REMOTE_FALLBACK_TRAILER] = `layer ${src.digest} has no ${'containerd.io/snapshot/stargz/toc.digest'} label (not eStargz)`;
      return false;
    }
    const size = src.size ?? (await opts.blobSize?.(src));
    if (size === undefined) throw new GrpcError(Code.FAILED_PRECONDITION, `layer ${src.digest}: size unknown and no registry client to ask`);
    const res = await sn.prepareRemote(
      src.target,
      parent || undefined,
      {
        imageRef: src.imageRef,
        registry: src.registry,
        repository: src.repository,
        descriptor: { digest: src.digest, size, mediaType: src.mediaType ?? 'application/vnd.oci.image.layer.v1.tar+gzip', annotations: { 'containerd.io/snapshot/stargz/toc.digest': src.tocDigest } },
        diffID: src.diffID,
      },
      ctx.signal,
    );
    if (res.lazy) {
      remoteLabels.set(src.target, labels);
      log(`${opts.name}: ${src.target} is layer ${src.digest} of ${src.imageRef}, mounted lazily (for ${key})`);
      return true;
    }
    ctx.trailers[REMOTE_FALLBACK_TRAILER] = res.reason;
    log(`${opts.name}: layer ${src.digest} is pulled normally: ${res.reason}`);
    return false;
  };

  return {
    name: SNAPSHOTS_SERVICE,
    unary: {
      Prepare: wrap(async (b, ctx) => {
        const r = PrepareRequestCodec.decode(b);
        requireKey(r.key);
        const { labels, source } = takeCredentialLease(r.labels);
        return leased(source, async () => {
          const src = remoteSourceOf(labels);
          if (src && (await prepareRemote(r.key, r.parent, src, labels, ctx))) {
            throw new GrpcError(Code.ALREADY_EXISTS, `target snapshot ${JSON.stringify(src.target)} already exists`);
          }
          return { mounts: toPbMounts(await sn.prepare(r.key, r.parent || undefined, { labels })) };
        });
      }, MountsResponseCodec.encode),
      View: wrap(async (b) => {
        const r = ViewRequestCodec.decode(b);
        const { labels, source } = takeCredentialLease(r.labels);
        return leased(source, async () => ({ mounts: toPbMounts(await sn.view(requireKey(r.key), r.parent || undefined, { labels })) }));
      }, MountsResponseCodec.encode),
      Mounts: wrap(async (b) => ({ mounts: toPbMounts(await sn.mounts(requireKey(KeyRequestCodec.decode(b).key))) }), MountsResponseCodec.encode),
      Commit: wrap(async (b) => {
        const r = CommitRequestCodec.decode(b);
        await sn.commit(requireKey(r.name, 'name'), requireKey(r.key), { labels: r.labels });
        return {};
      }, Empty.encode),
      Remove: wrap(async (b) => {
        const key = requireKey(KeyRequestCodec.decode(b).key);
        await sn.remove(key);
        remoteLabels.delete(key);
        return {};
      }, Empty.encode),
      Stat: wrap(async (b) => {
        const key = requireKey(KeyRequestCodec.decode(b).key);
        const info = await sn.stat(key);
        if (!info) throw new GrpcError(Code.NOT_FOUND, `snapshot ${JSON.stringify(key)} does not exist`);
        return { info: infoToPb(withRemoteLabels(info)) };
      }, InfoResponseCodec.encode),
      Update: wrap(async (b) => {
        const r = UpdateRequestCodec.decode(b);
        const key = requireKey(r.info.name, 'info.name');
        for (const p of r.updateMask) if (p !== 'labels' && !p.startsWith('labels.')) throw new GrpcError(Code.INVALID_ARGUMENT, `cannot update field ${JSON.stringify(p)} of snapshot ${JSON.stringify(key)} (only labels change)`);
        const updater = sn as Partial<LabelUpdater>;
        if (typeof updater.updateLabels !== 'function') throw new GrpcError(Code.UNIMPLEMENTED, `${opts.name} keeps labels fixed after creation; containerd keeps updated labels in its own metadata`);
        return { info: infoToPb(await updater.updateLabels(key, r.info.labels, r.updateMask)) };
      }, InfoResponseCodec.encode),
      Usage: wrap(async (b) => sn.usage(requireKey(KeyRequestCodec.decode(b).key)), UsageResponseCodec.encode),
      // Removal is synchronous and the stores sweep leftovers at start: nothing is deferred.
      Cleanup: wrap(async (b) => (SnapshotterRequestCodec.decode(b), {}), Empty.encode),
    },
    serverStream: {
      List: async function* (b: Uint8Array) {
        let filter: (i: SnapshotInfo) => boolean;
        let batch: PbInfo[] = [];
        const out: Uint8Array[] = [];
        try {
          filter = snapshotFilter(ListRequestCodec.decode(b).filters);
          await sn.walk((raw) => {
            const i = withRemoteLabels(raw);
            if (!filter(i)) return;
            batch.push(infoToPb(i));
            // containerd sends 100 infos per message; so do we.
            if (batch.length === 100) {
              out.push(ListResponseCodec.encode({ info: batch }));
              batch = [];
            }
          });
        } catch (e) {
          throw statusOf(e);
        }
        if (batch.length || out.length === 0) out.push(ListResponseCodec.encode({ info: batch }));
        yield* out;
      },
    },
  };
}

function remoteStatusService(sn: Snapshotter) {
  return {
    name: REMOTE_STATUS_SERVICE,
    unary: {
      Status: async () => new TextEncoder().encode(JSON.stringify(isRemoteSnapshotter(sn) ? sn.remoteStatus() : [])),
    },
  };
}

/** Starts serving `sn` on `socketPath`. Closing stops the server; the snapshotter stays open. */
export function serveSnapshotter(sn: Snapshotter, socketPath: string, opts: ProxyServerOptions): Promise<GrpcServer> {
  return startGrpcServer(socketPath, [snapshotsService(sn, opts), remoteStatusService(sn)], {
    onError: (path, code, message) => {
      // NOT_FOUND and ALREADY_EXISTS are answers containerd expects, not failures.
      if (code !== Code.NOT_FOUND && code !== Code.ALREADY_EXISTS) opts.log?.(`${opts.name}: ${path}: ${message}`);
    },
  });
}
