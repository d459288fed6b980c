// A Snapshotter in another process, reached over containerd's snapshots gRPC API (the daemon's
// --oci-worker-proxy-snapshotter-path). Layers are applied and diffed here, on the mounts the
// server returns, as containerd's differ does; prepareRemote is a Prepare with remote labels.
import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import { GrpcClient, type CallOptions } from '../grpc/client.ts';
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
  UsageResponseCodec,
  ViewRequestCodec,
  type PbInfo,
  type PbMount,
  type Timestamp,
} from '../grpc/snapshots-messages.ts';
import { applyLayer } from '../layer/apply.ts';
import { diffDirs, diffOverlayUpper, type DiffOptions, type LayerDigest, type LayerStream } from '../layer/diff.ts';
import { overlayFeatureOptions } from '../../plugins/snapshotter-overlay/driver.ts';
import type { TarSource } from '../layer/tar-reader.ts';
import type { LayerSnapshotter } from '../layer/types.ts';
import { mountAll, unmountAll } from './mount.ts';
import { ownedPrefix } from '../layer/owner.ts';
import { REMOTE_FALLBACK_TRAILER, REMOTE_STATUS_SERVICE, RemoteStatusSchema } from './proxy-server.ts';
import { remoteLabelsFor } from './remote-labels.ts';
import type { CredentialLease } from './credential-lease.ts';
import type { Mount, PrepareOptions, RemoteLayer, RemotePrepareResult, RemoteSnapshotter, SnapshotInfo, SnapshotKind, SnapshotUsage } from './types.ts';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ProxySnapshotterOptions {
  /** The `snapshotter` field of requests (containerd sends its proxy plugin's name). */
  name?: string;
  /** Where applyLayer/diff mount snapshots (default the system temp dir). Entries are named
   *  with ownedPrefix('view-'), so a worker's sweepDeadEntries(<root>/tmp) cleans up after a crash. */
  mountDir?: string;
  /** Per-call timeout in ms (default none: applying a layer on the server side can take long). */
  timeoutMs?: number;
  /** Adds a credential lease to each Prepare and View, so the server can mount lazy layers with
   *  the caller's registry credentials (see credential-lease.ts). */
  credentials?: { lease(): CredentialLease };
}

type RemoteStatus = ReturnType<RemoteSnapshotter['remoteStatus']>;

const KIND_NAMES: Record<number, SnapshotKind> = { [KIND.view]: 'view', [KIND.active]: 'active', [KIND.committed]: 'committed' };

function rfc3339(t: Timestamp): string {
  return new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6)).toISOString();
}

function infoFromPb(i: PbInfo, where: string): SnapshotInfo {
  const kind = KIND_NAMES[i.kind];
  if (!kind) throw new Error(`${where}: snapshot ${JSON.stringify(i.name)} has unknown kind ${i.kind}`);
  return { key: i.name, parent: i.parent || undefined, kind, labels: i.labels, created: rfc3339(i.createdAt) };
}

const fromPbMounts = (ms: PbMount[]): Mount[] => ms.map((m) => ({ type: m.type, source: m.source, options: m.options }));

export class ProxySnapshotter implements LayerSnapshotter, RemoteSnapshotter {
  private readonly client: GrpcClient;
  private readonly name: string;
  private lastStatus: RemoteStatus = [];

  constructor(
    readonly socketPath: string,
    private readonly opts: ProxySnapshotterOptions = {},
  ) {
    this.client = new GrpcClient(socketPath);
    this.name = opts.name ?? 'edgebuild';
  }

  /** One unary call; errors name the socket, the method and the key. */
  private async call(method: string, body: Uint8Array, what: string, callOpts: CallOptions = {}) {
    try {
      return await this.client.unary(`/${SNAPSHOTS_SERVICE}/${method}`, body, { timeoutMs: this.opts.timeoutMs, ...callOpts });
    } catch (e) {
      if (e instanceof GrpcError) throw new ProxyError(e.code, `proxy snapshotter ${this.socketPath}: ${method} ${what}: ${e.message}`);
      throw e;
    }
  }

  /** Runs a Prepare or View with a credential lease in its labels, revoked when it returns: the
   *  server may have to mount a lazy layer of the chain (again) while serving it. */
  private async leased<T>(labels: Record<string, string> | undefined, fn: (labels: Record<string, string>) => Promise<T>): Promise<T> {
    const lease = this.opts.credentials?.lease();
    try {
      return await fn({ ...labels, ...lease?.labels });
    } finally {
      lease?.release();
    }
  }

  async prepare(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    const r = await this.leased(opts?.labels, (labels) => this.call('Prepare', PrepareRequestCodec.encode({ snapshotter: this.name, key, parent: parent ?? '', labels }), JSON.stringify(key)));
    return fromPbMounts(MountsResponseCodec.decode(r.body).mounts);
  }

  async view(key: string, parent?: string, opts?: PrepareOptions): Promise<Mount[]> {
    const r = await this.leased(opts?.labels, (labels) => this.call('View', ViewRequestCodec.encode({ snapshotter: this.name, key, parent: parent ?? '', labels }), JSON.stringify(key)));
    return fromPbMounts(MountsResponseCodec.decode(r.body).mounts);
  }

  async mounts(key: string): Promise<Mount[]> {
    const r = await this.call('Mounts', KeyRequestCodec.encode({ snapshotter: this.name, key }), JSON.stringify(key));
    return fromPbMounts(MountsResponseCodec.decode(r.body).mounts);
  }

  async commit(name: string, key: string, opts?: PrepareOptions): Promise<void> {
    Empty.decode((await this.call('Commit', CommitRequestCodec.encode({ snapshotter: this.name, name, key, labels: opts?.labels ?? {} }), `${JSON.stringify(key)} as ${JSON.stringify(name)}`)).body);
  }

  async remove(key: string): Promise<void> {
    Empty.decode((await this.call('Remove', KeyRequestCodec.encode({ snapshotter: this.name, key }), JSON.stringify(key))).body);
  }

  async stat(key: string): Promise<SnapshotInfo | undefined> {
    try {
      const r = await this.call('Stat', KeyRequestCodec.encode({ snapshotter: this.name, key }), JSON.stringify(key));
      return infoFromPb(InfoResponseCodec.decode(r.body).info, `proxy snapshotter ${this.socketPath}`);
    } catch (e) {
      if (e instanceof ProxyError && e.code === Code.NOT_FOUND) return undefined;
      throw e;
    }
  }

  async usage(key: string): Promise<SnapshotUsage> {
    return UsageResponseCodec.decode((await this.call('Usage', KeyRequestCodec.encode({ snapshotter: this.name, key }), JSON.stringify(key))).body);
  }

  async walk(fn: (info: SnapshotInfo) => void | Promise<void>): Promise<void> {
    let msgs: Uint8Array[];
    try {
      msgs = await this.client.serverStream(`/${SNAPSHOTS_SERVICE}/List`, ListRequestCodec.encode({ snapshotter: this.name, filters: [] }), { timeoutMs: this.opts.timeoutMs });
    } catch (e) {
      if (e instanceof GrpcError) throw new ProxyError(e.code, `proxy snapshotter ${this.socketPath}: List: ${e.message}`);
      throw e;
    }
    for (const m of msgs) for (const i of ListResponseCodec.decode(m).info) await fn(infoFromPb(i, `proxy snapshotter ${this.socketPath}`));
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** Mounts `mounts` on a fresh dir for the duration of fn. */
  private async withMounted<T>(mounts: Mount[], fn: (dir: string) => Promise<T>): Promise<T> {
    const dir = mkdtempSync(join(this.opts.mountDir ?? tmpdir(), ownedPrefix('view-')));
    try {
      await mountAll(mounts, dir);
      return await fn(dir);
    } finally {
      await unmountAll(dir);
      rmdirSync(dir);
    }
  }

  /** prepare + apply + commit, with the tar applied here on the server's mounts: whiteouts are
   *  carried out on the mounted tree (the server's overlay records them in its upperdir). */
  async applyLayer(key: string, parent: string | undefined, tar: TarSource, opts?: PrepareOptions): Promise<LayerDigest> {
    if (await this.stat(key)) throw new Error(`snapshot ${JSON.stringify(key)} already exists`);
    const tmpKey = `extract-${randomBytes(6).toString('hex')} ${key}`;
    const mounts = await this.prepare(tmpKey, parent);
    try {
      const res = await this.withMounted(mounts, (dir) => applyLayer(dir, tar, { mode: 'native' }));
      await this.commit(key, tmpKey, opts);
      return res;
    } catch (e) {
      await this.remove(tmpKey).catch(() => {});
      throw e;
    }
  }

  /** The layer `key` adds on top of its parent, by comparing the two mounted trees. The mounts
   *  (and temporary views) stay until the stream has been read or cancelled. */
  async diff(key: string, opts: DiffOptions = {}): Promise<LayerStream> {
    const s = await this.stat(key);
    if (!s) throw new Error(`snapshot ${JSON.stringify(key)} does not exist`);
    if (s.kind === 'view') throw new Error(`snapshot ${JSON.stringify(key)} is view, expected active or committed`);
    const tag = randomBytes(6).toString('hex');
    const views: string[] = [];
    const dirs: string[] = [];
    const mountTmp = async (mounts: Mount[]) => {
      const dir = mkdtempSync(join(this.opts.mountDir ?? tmpdir(), ownedPrefix('view-')));
      dirs.push(dir);
      await mountAll(mounts, dir);
      return dir;
    };
    const cleanup = async () => {
      for (const d of dirs.reverse()) {
        await unmountAll(d);
        rmdirSync(d);
      }
      for (const k of views) await this.remove(k).catch(() => {});
    };
    try {
      let upperMounts: Mount[];
      if (s.kind === 'active') upperMounts = await this.mounts(key);
      else {
        views.push(`diff-${tag} upper ${key}`);
        upperMounts = await this.view(views[views.length - 1], key);
      }
      let out: LayerStream;
      const layerDir = s.parent ? overlayLayerDir(upperMounts, s.kind) : undefined;
      if (layerDir) {
        // The snapshot's own overlay layer dir holds exactly its changes (whiteouts included),
        // as the in-process overlay driver diffs: no walk of the whole merged tree.
        out = diffOverlayUpper(layerDir.dir, { ...opts, lowers: layerDir.lowers });
      } else {
        let lower: string | undefined;
        if (s.parent) {
          views.push(`diff-${tag} lower ${key}`);
          lower = await mountTmp(await this.view(views[views.length - 1], s.parent));
        }
        out = diffDirs(lower, await mountTmp(upperMounts), opts);
      }
      // done settles only after the mounts and views are gone.
      const done = out.done.then(
        async (r) => (await cleanup(), r),
        async (e) => {
          await cleanup().catch(() => {});
          throw e;
        },
      );
      return { stream: out.stream, done };
    } catch (e) {
      await cleanup().catch(() => {});
      throw e;
    }
  }

  async prepareRemote(key: string, parent: string | undefined, layer: RemoteLayer, signal?: AbortSignal): Promise<RemotePrepareResult> {
    const tmpKey = `extract-${randomBytes(6).toString('hex')} ${key}`;
    let r;
    try {
      r = await this.leased(remoteLabelsFor(key, layer), (labels) =>
        this.call('Prepare', PrepareRequestCodec.encode({ snapshotter: this.name, key: tmpKey, parent: parent ?? '', labels }), `${JSON.stringify(key)} (remote ${layer.descriptor.digest})`, { signal }),
      );
    } catch (e) {
      if (e instanceof ProxyError && e.code === Code.ALREADY_EXISTS) {
        void this.refreshRemoteStatus().catch(() => {});
        return { lazy: true };
      }
      throw e;
    }
    // The server prepared an ordinary snapshot: the caller pulls and applies the layer itself.
    await this.remove(tmpKey);
    return { lazy: false, reason: r.metadata[REMOTE_FALLBACK_TRAILER] || `proxy snapshotter ${this.socketPath} did not mount ${layer.descriptor.digest} remotely` };
  }

  /** Fetches the server's per-layer lazy-pull status (edgebuild servers only). */
  async refreshRemoteStatus(): Promise<RemoteStatus> {
    const r = await this.client.unary(`/${REMOTE_STATUS_SERVICE}/Status`, new Uint8Array(0), { timeoutMs: this.opts.timeoutMs ?? 10_000 });
    let raw: unknown;
    try {
      raw = JSON.parse(new TextDecoder().decode(r.body));
    } catch (e) {
      throw new Error(`proxy snapshotter ${this.socketPath}: remote status is not JSON: ${(e as Error).message}`);
    }
    const parsed = v.safeParse(RemoteStatusSchema, raw);
    if (!parsed.success) throw new Error(`proxy snapshotter ${this.socketPath}: remote status: ${parsed.issues[0].message}`);
    this.lastStatus = parsed.output;
    return this.lastStatus;
  }

  /** The status last fetched (the interface is synchronous); starts a refresh for next time. */
  remoteStatus(): RemoteStatus {
    void this.refreshRemoteStatus().catch(() => {});
    return this.lastStatus;
  }
}

const OVERLAY_FEATURES_OFF = overlayFeatureOptions();

/** The dir holding only snapshot's own layer, when `mounts` is one overlay the way containerd's
 *  and edgebuild's overlay snapshotters build it: an active snapshot's upperdir, or the first
 *  lowerdir of a committed snapshot's view (nearest first). Undefined when the layer cannot be
 *  read from one dir: binds (native snapshotter, no parent) or overlay features that make an
 *  upperdir depend on its lowers (metacopy, redirect_dir) left on. */
export function overlayLayerDir(mounts: Mount[], kind: 'active' | 'committed'): { dir: string; lowers: string[] } | undefined {
  if (mounts.length !== 1 || mounts[0].type !== 'overlay') return undefined;
  const opts = mounts[0].options;
  const value = (name: string) => opts.find((o) => o.startsWith(`${name}=`))?.slice(name.length + 1);
  if (opts.some((o) => /^(metacopy|redirect_dir)=(on|follow)$/.test(o))) return undefined;
  if (!OVERLAY_FEATURES_OFF.every((o) => opts.includes(o))) return undefined;
  const lowers = value('lowerdir')?.split(':') ?? [];
  if (lowers.length === 0 || !lowers.every((d) => d.startsWith('/'))) return undefined;
  if (kind === 'active') {
    const upper = value('upperdir');
    return upper?.startsWith('/') ? { dir: upper, lowers } : undefined;
  }
  if (value('upperdir') !== undefined || lowers.length < 2) return undefined;
  return { dir: lowers[0], lowers: lowers.slice(1) };
}

/** A failed call, keeping the gRPC status (NOT_FOUND, ALREADY_EXISTS…) for callers that branch. */
export class ProxyError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'ProxyError';
  }
}
