// Assembles the in-process worker from plugins: the configured snapshotter, the runc executor,
// the registry client (config + auth plugins) and the content store. With a proxy snapshotter
// (--oci-worker-proxy-snapshotter-path) snapshots live in that process; layers are applied and
// diffed here on the mounts it returns, and it mounts eStargz layers lazily itself.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PluginHost } from '../plugin/host.ts';
import type { EdgebuildConfig } from '../config/schema.ts';
import type { Executor } from '../executor/types.ts';
import type { LayerSnapshotter } from '../layer/types.ts';
import { isRemoteSnapshotter } from '../snapshot/types.ts';
import { mountAll, unmountAll } from '../snapshot/mount.ts';
import { ProxySnapshotter } from '../snapshot/proxy-client.ts';
import { startCredentialBroker } from '../snapshot/credential-lease.ts';
import { RegistryClient } from '../registry/client.ts';
import type { CredentialSource } from '../registry/credentials.ts';
import { ContentStore } from '../content/store.ts';
import type { Worker } from '../solver/worker.ts';
import { RegistryImageProvider } from './images.ts';
import { formatBytes } from '../progress/plain.ts';
import { ownedPrefix, sweepDeadEntries } from '../layer/owner.ts';

export interface LocalWorker extends Worker {
  snapshotterId: string;
  client: RegistryClient;
  store: ContentStore;
  /** Lines for the end of a build: per base layer lazy / pulled, bytes fetched vs size. */
  report(): Promise<string[]>;
  close(): Promise<void>;
}

export class WorkerError extends Error {}

export function chooseSnapshotter(host: PluginHost, wanted: string): string {
  if (wanted !== 'auto') {
    const st = host.state(`snapshotter.${wanted}`);
    if (!st) throw new WorkerError(`snapshotter ${JSON.stringify(wanted)} does not exist (see \`edgebuild plugins ls\`)`);
    if (st.status !== 'ok') throw new WorkerError(`snapshotter ${wanted} is ${st.status}: ${st.reason ?? ''}`.trim());
    return wanted;
  }
  for (const id of ['overlay', 'native']) if (host.state(`snapshotter.${id}`)?.status === 'ok') return id;
  throw new WorkerError('no snapshotter is usable here (overlay and native are both unavailable; see `edgebuild plugins ls`)');
}

/** Prefixes of the temp entries under <root>/tmp (solver mounts, exports, downloads). */
export const TMP_PREFIXES = ['view-', 'file-', 'merge-', 'http-', 'export-', 'cred-'] as const;

export interface LocalWorkerOptions {
  /** Socket of a proxy snapshotter (default [worker.oci] proxySnapshotterPath): snapshots live
   *  in that process; `wanted` is then ignored. */
  proxySnapshotterPath?: string;
}

export async function createLocalWorker(host: PluginHost, config: EdgebuildConfig, root: string, wanted: string, signal?: AbortSignal, log?: (l: string) => void, opts: LocalWorkerOptions = {}): Promise<LocalWorker> {
  const executor = host.get<Executor>('executor.runc');
  const credentials = host.all<CredentialSource>('auth').map((a) => a.instance);
  const client = new RegistryClient({ registries: config.registry, credentials, signal });
  const store = new ContentStore(root);
  const tmp = join(root, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  // Mounts and temp dirs of a build that was killed: nobody else will clean them up.
  await sweepDeadEntries(tmp, [...TMP_PREFIXES]);
  const proxyPath = opts.proxySnapshotterPath ?? config.worker.oci.proxySnapshotterPath;
  const { snapshotterId, snapshotter, close } = proxyPath
    ? await connectProxy(proxyPath, tmp, credentials)
    : { snapshotterId: chooseSnapshotter(host, wanted), snapshotter: undefined, close: async () => {} };
  const layerSnapshotter = snapshotter ?? host.get<LayerSnapshotter>(`snapshotter.${snapshotterId}`);
  return assemble({ root, tmp, snapshotterId, snapshotter: layerSnapshotter, executor, client, store, log, close });
}

/** A proxy snapshotter on `path`, checked to answer, with a credential broker so that lazy
 *  layers it mounts for a build use that build's registry credentials (credential-lease.ts). */
async function connectProxy(path: string, tmp: string, credentials: CredentialSource[]): Promise<{ snapshotterId: string; snapshotter: LayerSnapshotter; close: () => Promise<void> }> {
  let st;
  try {
    st = fs.statSync(path);
  } catch (e) {
    throw new WorkerError(`proxy snapshotter ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such socket (is `edgebuild snapshotter serve --socket ' + path + '` running?)' : (e as Error).message}`);
  }
  if (!st.isSocket()) throw new WorkerError(`proxy snapshotter ${path}: not a socket`);
  const broker = startCredentialBroker(join(tmp, `${ownedPrefix('cred-')}${randomBytes(4).toString('hex')}.sock`), () => credentials);
  const proxy = new ProxySnapshotter(path, { mountDir: tmp, credentials: broker });
  try {
    // Any answer proves a snapshots service is there; NOT_FOUND is the expected one.
    await proxy.stat(`edgebuild-probe-${randomBytes(4).toString('hex')}`);
  } catch (e) {
    broker.close();
    await proxy.close();
    const msg = (e as Error).message.split('\n')[0];
    const cause = /\(caused by: (.*)\)$/.exec(msg)?.[1];
    throw new WorkerError(`proxy snapshotter ${path}: ${cause ? `not answering (${cause})` : msg.replace(`proxy snapshotter ${path}: `, '')}`);
  }
  return {
    snapshotterId: `proxy ${path}`,
    snapshotter: proxy,
    close: async () => {
      broker.close();
      fs.rmSync(broker.socketPath, { force: true });
      await proxy.close();
    },
  };
}

interface WorkerParts {
  root: string;
  tmp: string;
  snapshotterId: string;
  snapshotter: LayerSnapshotter;
  executor: Executor;
  client: RegistryClient;
  store: ContentStore;
  log?: (l: string) => void;
  close: () => Promise<void>;
}

function assemble({ root, tmp, snapshotterId, snapshotter, executor, client, store, log, close }: WorkerParts): LocalWorker {
  const images = new RegistryImageProvider(client, store, snapshotter, log);
  return {
    root,
    snapshotterId,
    client,
    store,
    snapshotter,
    executor,
    images,
    mount: (mounts, target) => mountAll(mounts, target),
    unmount: (target) => unmountAll(target),
    async diff(snapshot, _parent, opts) {
      const layer = await snapshotter.diff(snapshot, { sourceDateEpoch: opts.sourceDateEpoch });
      return layer.stream;
    },
    async fetchUrl(url, sig) {
      const res = await fetch(url, { signal: sig, redirect: 'follow' });
      if (!res.ok || !res.body) throw new WorkerError(`ADD ${url}: HTTP ${res.status} ${res.statusText}`);
      const path = join(tmp, `${ownedPrefix('http-')}${randomBytes(6).toString('hex')}`);
      const hash = createHash('sha256');
      const fd = fs.openSync(path, 'w', 0o600);
      try {
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          hash.update(chunk);
          fs.writeSync(fd, chunk);
        }
      } catch (e) {
        fs.rmSync(path, { force: true });
        throw new WorkerError(`ADD ${url}: download failed: ${(e as Error).message}`);
      } finally {
        fs.closeSync(fd);
      }
      return { path, digest: 'sha256:' + hash.digest('hex') };
    },
    async report() {
      const lines: string[] = [];
      // A proxy's status is fetched now (its remoteStatus() is the last answer, for sync callers).
      const status = snapshotter instanceof ProxySnapshotter ? await snapshotter.refreshRemoteStatus().catch(() => []) : isRemoteSnapshotter(snapshotter) ? snapshotter.remoteStatus() : [];
      for (const o of images.outcomes) {
        const s = status.find((x) => x.digest === o.digest);
        if (o.how === 'lazy' || (o.how === 'present' && s)) {
          lines.push(`base layer ${o.digest.slice(0, 19)} (${o.imageRef}): lazy${o.how === 'present' ? ' (existing snapshot)' : ''}, fetched ${formatBytes(s?.fetched ?? 0)} of ${formatBytes(o.size)}`);
        } else if (o.how === 'pulled') lines.push(`base layer ${o.digest.slice(0, 19)} (${o.imageRef}): pulled ${formatBytes(o.size)}${o.reason ? ` (${o.reason})` : ''}`);
      }
      return lines;
    },
    close,
  };
}
