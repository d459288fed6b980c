// type=image,name=ref[,ref2],push=true,store=true,…: the image into the local content store (and
// its names recorded), and/or pushed to a registry, as BuildKit's image exporter.
import { join } from 'node:path';
import type { InitContext, PluginRegistration } from '../../core/plugin/types.ts';
import type { Compressor, Exporter } from '../../core/export/types.ts';
import { boolAttr, checkAttrs, ExportAttrError } from '../../core/export/attrs.ts';
import { IMAGE_ATTRS, parseImageAttrs } from '../../core/export/image-attrs.ts';
import { buildImage } from '../../core/export/image-builder.ts';
import { imageNames } from '../../core/export/oci-layout.ts';
import { recordNames, storeBlobs } from '../../core/export/store-image.ts';
import { pushImage } from '../../core/export/push-image.ts';
import { compressorsFrom } from '../../core/export/compressors.ts';
import { ContentStore } from '../../core/content/store.ts';
import { ImageStore } from '../../core/content/images.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { parseReference } from '../../core/registry/reference.ts';
import type { RegistryConfigMap } from '../../core/registry/endpoint.ts';
import type { CredentialSource } from '../../core/registry/credentials.ts';

export const IMAGE_EXPORTER_ATTRS = ['name', 'push', 'store', 'registry.insecure', ...IMAGE_ATTRS];

export interface ImageExporterDeps {
  compressors: () => Map<string, Compressor>;
  tmpDir: string;
  contentStore: () => ContentStore;
  imageStore: () => ImageStore;
  /** A client for pushes; `insecureHosts` come from registry.insecure=true. */
  registryClient: (insecureHosts: string[], signal?: AbortSignal) => RegistryClient;
}

/** `registry` is BuildKit's shorthand for `image,push=true`; both share this code. */
export function imageExporter(deps: ImageExporterDeps, kind: { id: 'image' | 'registry' } = { id: 'image' }): Exporter {
  const id = kind.id;
  return {
    async export(input, attrs, progress, signal) {
      checkAttrs(id, attrs, IMAGE_EXPORTER_ATTRS);
      const names = imageNames(attrs.name);
      for (const n of names) parseReference(n); // a bad name fails before any work
      const push = boolAttr(id, attrs, 'push', id === 'registry');
      const store = boolAttr(id, attrs, 'store', true);
      const insecure = boolAttr(id, attrs, 'registry.insecure', false);
      if (push && names.length === 0) throw new ExportAttrError(`exporter ${id}: push=true needs name=REF`);
      if (!push && !store) throw new ExportAttrError(`exporter ${id}: store=false without push=true would export nothing`);
      const image = parseImageAttrs(id, attrs, { oci: true });
      const img = await buildImage(input, { ...image, exporter: id, tmpDir: deps.tmpDir, compressors: deps.compressors() }, progress, signal);
      try {
        const notes = [...img.notes];
        const content = store ? deps.contentStore() : undefined;
        if (content) {
          await storeBlobs(img, content, progress, signal);
          const refs = await recordNames(img, names, deps.imageStore());
          notes.push(refs.length ? `stored as ${refs.join(', ')}` : `stored without a name (manifest ${img.manifest.descriptor.digest})`);
        }
        if (push) {
          const hosts = insecure ? [...new Set(names.map((n) => parseReference(n).registry))] : [];
          notes.push(...(await pushImage(img, names, { client: deps.registryClient(hosts, signal), store: content, progress, signal })));
        }
        return { digest: img.manifest.descriptor.digest, notes };
      } finally {
        await img.dispose();
      }
    },
  };
}

/** `[registry."host"]` settings with TLS verification turned off for the given hosts. */
export function withInsecure(registries: RegistryConfigMap, hosts: string[]): RegistryConfigMap {
  const out = { ...registries };
  for (const h of hosts) out[h] = { ...(registries[h] ?? { mirrors: [], http: false, ca: [] }), insecure: true };
  return out;
}

function initImageExporter(ctx: InitContext<Record<string, never>>, id: 'image' | 'registry'): Exporter {
  let content: ContentStore | undefined;
  let images: ImageStore | undefined;
  const deps: ImageExporterDeps = {
    compressors: compressorsFrom(ctx),
    // Under the root, like the store, so ingesting a compressed layer stays on one filesystem.
    tmpDir: join(ctx.pluginRoot, 'tmp'),
    contentStore: () => (content ??= new ContentStore(ctx.root)),
    imageStore: () => (images ??= new ImageStore(ctx.root)),
    registryClient: (hosts, signal) =>
      new RegistryClient({
        registries: withInsecure(ctx.global.registry, hosts),
        credentials: ctx.all<CredentialSource>('auth').map((a) => a.instance),
        signal,
      }),
  };
  return imageExporter(deps, { id });
}

export const imageExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'image',
  description: 'the image into the local store and/or a registry (name=REF, push=true)',
  requires: ['compressor', 'auth'],
  init: (ctx) => initImageExporter(ctx, 'image'),
};

export const registryExporterPlugin: PluginRegistration<Record<string, never>, Exporter> = {
  kind: 'exporter',
  id: 'registry',
  description: 'shorthand for type=image,push=true (name=REF)',
  requires: ['compressor', 'auth'],
  init: (ctx) => initImageExporter(ctx, 'registry'),
};

export default imageExporterPlugin;
