// Copy endpoints in skopeo's notation: `docker://REF` (a registry) and `oci:DIR[:TAG]` (an OCI
// image layout). A source hands out verified manifests and blob streams; a destination takes
// blobs first and the top manifest last.
import type { RegistryClient } from '../registry/client.ts';
import { parseReference, formatReference, familiarName, type Reference } from '../registry/reference.ts';
import { resumableBlob } from './resumable-blob.ts';
import { OciLayout, OciLayoutError } from './oci-layout.ts';
import type { Descriptor } from './schemas.ts';
import { digestOf } from '../content/digest.ts';
import { ImageFormatError } from './manifest.ts';

export type Transport = { kind: 'docker'; ref: Reference } | { kind: 'oci'; dir: string; tag?: string };

export class TransportError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TransportError';
  }
}

export function parseTransport(text: string): Transport {
  if (text.startsWith('docker://')) return { kind: 'docker', ref: parseReference(text.slice(9)) };
  if (text.startsWith('oci:')) {
    const rest = text.slice(4);
    const colon = rest.lastIndexOf(':');
    const [dir, tag] = colon > 0 && !rest.slice(colon + 1).includes('/') ? [rest.slice(0, colon), rest.slice(colon + 1)] : [rest, undefined];
    if (!dir) throw new TransportError(`${JSON.stringify(text)}: oci: needs a directory (oci:DIR[:TAG])`);
    if (tag !== undefined && !/^[\w][\w.-]{0,127}$/.test(tag)) throw new TransportError(`${JSON.stringify(text)}: invalid tag ${JSON.stringify(tag)}`);
    return { kind: 'oci', dir, tag };
  }
  throw new TransportError(`${JSON.stringify(text)}: unknown transport (use docker://REF or oci:DIR[:TAG])`);
}

export function describeTransport(t: Transport): string {
  return t.kind === 'docker' ? `docker://${familiarName(t.ref)}` : `oci:${t.dir}${t.tag !== undefined ? ':' + t.tag : ''}`;
}

export interface ImageSource {
  name: string;
  /** The manifest or index the source names, with its bytes exactly as stored. */
  top(): Promise<{ bytes: Uint8Array; mediaType: string; digest: string }>;
  /** A manifest by descriptor, digest-checked. */
  manifest(desc: Descriptor): Promise<Uint8Array>;
  /** Blob bytes as a stream (destinations verify size and digest). */
  blob(desc: Descriptor): Promise<ReadableStream<Uint8Array>>;
  /** A file-backed Blob when the source is local (uploads it with Content-Length, in chunks). */
  blobFile?(desc: Descriptor): Blob;
  /** Where blobs live when the source is a registry (for cross-repository mounts). */
  repo?: { registry: string; repository: string };
}

export interface ImageDestination {
  name: string;
  /** Stores a blob unless present; says how. */
  putBlob(desc: Descriptor, src: ImageSource): Promise<'exists' | 'mounted' | 'copied'>;
  /** A manifest referenced by the top one (by digest). */
  putChildManifest(desc: Descriptor, bytes: Uint8Array): Promise<void>;
  /** The top manifest, then the name pointing at it: the last step of a copy. */
  commit(desc: Descriptor, bytes: Uint8Array): Promise<void>;
}

// ---------------------------------------------------------------- docker://

export function dockerSource(client: RegistryClient, ref: Reference): ImageSource {
  return {
    name: `docker://${familiarName(ref)}`,
    repo: { registry: ref.registry, repository: ref.repository },
    async top() {
      const m = await client.getManifest(ref);
      return { bytes: m.bytes, mediaType: m.mediaType, digest: m.digest };
    },
    async manifest(desc) {
      return (await client.getManifest(ref, desc.digest)).bytes;
    },
    blob: async (desc) => resumableBlob(await client.openBlob(ref, desc.digest), (offset) => client.openBlob(ref, desc.digest, offset)),
  };
}

/** Hashes a stream as it passes and fails it at the end when size or digest differ. */
function verified(stream: ReadableStream<Uint8Array>, desc: Descriptor, where: string): ReadableStream<Uint8Array> {
  const h = new Bun.CryptoHasher('sha256');
  let n = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        n += chunk.length;
        h.update(chunk);
        ctl.enqueue(chunk);
      },
      flush() {
        const actual = `sha256:${h.digest('hex')}`;
        if (n !== desc.size) throw new ImageFormatError(`blob ${desc.digest} from ${where}: got ${n} bytes, expected ${desc.size}`);
        if (actual !== desc.digest) throw new ImageFormatError(`blob ${desc.digest} from ${where}: content has digest ${actual} (corrupt or altered)`);
      },
    }),
  );
}

export function dockerDestination(client: RegistryClient, ref: Reference): ImageDestination {
  const name = `docker://${familiarName(ref)}`;
  return {
    name,
    async putBlob(desc, src) {
      if ((await client.blobExists(ref, desc.digest)) !== undefined) return 'exists';
      if (src.repo && src.repo.registry === ref.registry && src.repo.repository !== ref.repository) {
        if (await client.mountBlob(ref, desc.digest, src.repo.repository)) return 'mounted';
      }
      const file = src.blobFile?.(desc);
      if (file) {
        if (file.size !== desc.size) throw new ImageFormatError(`blob ${desc.digest} in ${src.name}: file is ${file.size} bytes, expected ${desc.size}`);
        // Checked before upload so a corrupt local blob never reaches the registry.
        const h = new Bun.CryptoHasher('sha256');
        for await (const c of file.stream()) h.update(c);
        const actual = `sha256:${h.digest('hex')}`;
        if (actual !== desc.digest) throw new ImageFormatError(`blob ${desc.digest} in ${src.name}: content has digest ${actual} (corrupt or altered)`);
        await client.uploadBlob(ref, desc.digest, desc.size, file);
      } else {
        const stream = verified(await src.blob(desc), desc, src.name);
        await client.uploadBlob(ref, desc.digest, desc.size, () => stream);
      }
      return 'copied';
    },
    async putChildManifest(desc, bytes) {
      await client.putManifest(ref, bytes, desc.mediaType, desc.digest);
    },
    async commit(desc, bytes) {
      await client.putManifest(ref, bytes, desc.mediaType, ref.tag ?? desc.digest);
      if (ref.digest && ref.digest !== desc.digest) throw new TransportError(`${name}: copied manifest is ${desc.digest}, not the digest named`);
    },
  };
}

// ---------------------------------------------------------------- oci:

export function ociSource(dir: string, tag?: string): ImageSource {
  const layout = new OciLayout(dir);
  const name = `oci:${dir}${tag !== undefined ? ':' + tag : ''}`;
  const readVerified = async (desc: Descriptor) => {
    const bytes = await layout.readBlob(desc.digest);
    const actual = digestOf(bytes);
    if (actual !== desc.digest) throw new OciLayoutError(`${name}: manifest ${desc.digest} has digest ${actual} (corrupt or altered)`);
    return bytes;
  };
  return {
    name,
    async top() {
      const desc = await layout.resolve(tag);
      return { bytes: await readVerified(desc), mediaType: desc.mediaType, digest: desc.digest };
    },
    manifest: readVerified,
    async blob(desc) {
      if (!layout.hasBlob(desc.digest)) throw new OciLayoutError(`${name}: blob ${desc.digest} is missing`);
      return layout.file(desc.digest).stream() as ReadableStream<Uint8Array>;
    },
    blobFile(desc) {
      if (!layout.hasBlob(desc.digest)) throw new OciLayoutError(`${name}: blob ${desc.digest} is missing`);
      return layout.file(desc.digest);
    },
  };
}

export function ociDestination(dir: string, tag?: string): ImageDestination {
  const layout = new OciLayout(dir);
  let ready = false;
  const init = () => {
    if (!ready) layout.init();
    ready = true;
  };
  return {
    name: `oci:${dir}${tag !== undefined ? ':' + tag : ''}`,
    async putBlob(desc, src) {
      init();
      if (layout.hasBlob(desc.digest, desc.size)) return 'exists';
      await layout.writeBlob(desc, (await src.blob(desc)) as unknown as AsyncIterable<Uint8Array>);
      return 'copied';
    },
    async putChildManifest(desc, bytes) {
      init();
      if (!layout.hasBlob(desc.digest, desc.size)) await layout.writeBlob(desc, [bytes]);
    },
    async commit(desc, bytes) {
      init();
      if (!layout.hasBlob(desc.digest, desc.size)) await layout.writeBlob(desc, [bytes]);
      await layout.setRef(desc, tag);
    },
  };
}

export function formatRef(ref: Reference): string {
  return formatReference(ref);
}
