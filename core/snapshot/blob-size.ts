// The size of a registry blob by a pull-scoped HEAD, for remote-snapshot Prepares whose labels
// carry no size (containerd's do not). Mirrors are tried first, as for every pull; read-only
// credentials suffice (RegistryClient.blobExists asks for push scope, meant for uploads).
import type { RegistryClient } from '../registry/client.ts';
import type { RemoteSource } from './remote-labels.ts';

export async function blobSize(client: RegistryClient, src: RemoteSource, signal?: AbortSignal): Promise<number> {
  const errors: string[] = [];
  for (const ep of client.endpoints(src.registry, true)) {
    try {
      const res = await client.transport.request({
        ep,
        registry: src.registry,
        scopes: [`repository:${src.repository}:pull`],
        method: 'HEAD',
        path: `/v2/${src.repository}/blobs/${src.digest}`,
        what: `blob ${src.digest}`,
        accept: [404],
        noRetry: ep.mirror,
        signal,
      });
      await res.body?.cancel();
      const len = Number(res.headers.get('content-length'));
      if (res.status === 404) errors.push(`not found`);
      else if (Number.isSafeInteger(len) && len > 0) return len;
      else errors.push(`HEAD gave no content-length`);
    } catch (e) {
      errors.push((e as Error).message.split('\n')[0]);
    }
  }
  throw new Error(`layer ${src.digest} in ${src.registry}/${src.repository}: cannot learn its size (${errors.join('; ')})`);
}
