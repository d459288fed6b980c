// Assembles the in-process worker from plugins: the configured snapshotter, the runc executor,
// the registry client (config + auth plugins) and the content store.
import * as fs from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { PluginHost } from '../plugin/host.ts';
import type { EdgebuildConfig } from '../config/schema.ts';
import type { Executor } from '../executor/types.ts';
import type { LayerSnapshotter } from '../layer/types.ts';
import { isRemoteSnapshotter } from '../snapshot/types.ts';
import { mountAll, unmountAll } from '../snapshot/mount.ts';
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
  report(): string[];
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
export const TMP_PREFIXES = ['view-', 'file-', 'merge-', 'http-', 'export-'] as const;

export async function createLocalWorker(host: PluginHost, config: EdgebuildConfig, root: string, wanted: string, signal?: AbortSignal, log?: (l: string) => void): Promise<LocalWorker> {
  const snapshotterId = chooseSnapshotter(host, wanted);
  const snapshotter = host.get<LayerSnapshotter>(`snapshotter.${snapshotterId}`);
  const executor = host.get<Executor>('executor.runc');
  const client = new RegistryClient({
    registries: config.registry,
    credentials: host.all<CredentialSource>('auth').map((a) => a.instance),
    signal,
  });
  const store = new ContentStore(root);
  const images = new RegistryImageProvider(client, store, snapshotter, log);
  const tmp = join(root, 'tmp');
  fs.mkdirSync(tmp, { recursive: true });
  // Mounts and temp dirs of a build that was killed: nobody else will clean them up.
  await sweepDeadEntries(tmp, [...TMP_PREFIXES]);
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
    report() {
      const lines: string[] = [];
      const status = isRemoteSnapshotter(snapshotter) ? snapshotter.remoteStatus() : [];
      for (const o of images.outcomes) {
        if (o.how === 'lazy') {
          const s = status.find((x) => x.digest === o.digest);
          lines.push(`base layer ${o.digest.slice(0, 19)} (${o.imageRef}): lazy, fetched ${formatBytes(s?.fetched ?? 0)} of ${formatBytes(o.size)}`);
        } else if (o.how === 'pulled') lines.push(`base layer ${o.digest.slice(0, 19)} (${o.imageRef}): pulled ${formatBytes(o.size)}${o.reason ? ` (${o.reason})` : ''}`);
      }
      return lines;
    },
    async close() {},
  };
}
