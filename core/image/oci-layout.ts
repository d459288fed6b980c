// OCI image layout directories (`oci:DIR[:TAG]`): oci-layout, index.json whose entries carry the
// tag in `org.opencontainers.image.ref.name`, and blobs/sha256/<hex>. Blobs are written through a
// verified temp file; index.json is replaced atomically, last.
import * as v from 'valibot';
import { mkdirSync, existsSync, openSync, writeSync, fsyncSync, closeSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { IndexSchema, OciLayoutFileSchema, type Descriptor, type ImageIndex } from './schemas.ts';
import { MediaType } from './media-types.ts';
import { sha256Hex } from '../content/digest.ts';

export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';

export class OciLayoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OciLayoutError';
  }
}

export class OciLayout {
  constructor(readonly dir: string) {}

  blobPath(digest: string): string {
    return join(this.dir, 'blobs', 'sha256', sha256Hex(digest));
  }

  /** Creates the directory skeleton of a new layout (keeps an existing one). */
  init(): void {
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    const marker = join(this.dir, 'oci-layout');
    if (!existsSync(marker)) writeFileSync(marker, JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  }

  /** Throws unless DIR holds a layout (oci-layout file with a version). */
  async check(): Promise<void> {
    let text: string;
    try {
      text = await readFile(join(this.dir, 'oci-layout'), 'utf8');
    } catch {
      throw new OciLayoutError(`oci:${this.dir}: not an OCI image layout (no oci-layout file)`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OciLayoutError(`oci:${this.dir}/oci-layout: invalid JSON`);
    }
    if (!v.is(OciLayoutFileSchema, json)) throw new OciLayoutError(`oci:${this.dir}/oci-layout: missing imageLayoutVersion`);
  }

  async readIndex(): Promise<ImageIndex> {
    const path = join(this.dir, 'index.json');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
      throw e;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new OciLayoutError(`${path}: invalid JSON`);
    }
    const r = v.safeParse(IndexSchema, json);
    if (!r.success) throw new OciLayoutError(`${path}: ${r.issues[0].message}`);
    return r.output;
  }

  /** The manifest or index a tag names; with no tag, the only entry of index.json. */
  async resolve(tag?: string): Promise<Descriptor> {
    await this.check();
    const index = await this.readIndex();
    if (tag === undefined) {
      if (index.manifests.length === 1) return index.manifests[0];
      throw new OciLayoutError(`oci:${this.dir}: ${index.manifests.length} images in index.json; name one as oci:${this.dir}:TAG`);
    }
    const found = index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === tag);
    if (found.length === 0) throw new OciLayoutError(`oci:${this.dir}:${tag}: no image with that tag in index.json`);
    return found[found.length - 1];
  }

  hasBlob(digest: string, size?: number): boolean {
    try {
      const s = statSync(this.blobPath(digest));
      return size === undefined || s.size === size;
    } catch {
      return false;
    }
  }

  async readBlob(digest: string): Promise<Uint8Array> {
    try {
      return new Uint8Array(await readFile(this.blobPath(digest)));
    } catch (e) {
      throw new OciLayoutError(`oci:${this.dir}: blob ${digest} is missing (${(e as NodeJS.ErrnoException).code ?? 'unreadable'})`);
    }
  }

  file(digest: string): ReturnType<typeof Bun.file> {
    return Bun.file(this.blobPath(digest));
  }

  /** Writes a blob through a temp file, checking size and digest before it takes its name. */
  async writeBlob(desc: { digest: string; size: number }, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const final = this.blobPath(desc.digest);
    const tmp = join(this.dir, 'blobs', 'sha256', `.tmp-${randomBytes(6).toString('hex')}`);
    const fd = openSync(tmp, 'w', 0o644);
    let closed = false;
    try {
      const h = new Bun.CryptoHasher('sha256');
      let n = 0;
      for await (const chunk of source) {
        n += chunk.length;
        if (n > desc.size) throw new OciLayoutError(`blob ${desc.digest}: more data than its size ${desc.size}`);
        h.update(chunk);
        for (let off = 0; off < chunk.length; ) off += writeSync(fd, chunk, off);
      }
      if (n !== desc.size) throw new OciLayoutError(`blob ${desc.digest}: got ${n} bytes, expected ${desc.size} (truncated)`);
      const actual = `sha256:${h.digest('hex')}`;
      if (actual !== desc.digest) throw new OciLayoutError(`blob ${desc.digest}: content has digest ${actual} (corrupt or altered)`);
      fsyncSync(fd);
      closeSync(fd);
      closed = true;
      renameSync(tmp, final);
    } catch (e) {
      if (!closed) closeSync(fd);
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** Points `tag` at `desc` in index.json (replacing an older entry with that tag), atomically. */
  async setRef(desc: Descriptor, tag?: string): Promise<void> {
    const index = await this.readIndex();
    const entry: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
    if (desc.platform) entry.platform = desc.platform;
    const annotations = { ...(desc.annotations ?? {}) };
    if (tag !== undefined) annotations[REF_NAME_ANNOTATION] = tag;
    else delete annotations[REF_NAME_ANNOTATION];
    if (Object.keys(annotations).length) entry.annotations = annotations;
    const manifests = index.manifests.filter((d) =>
      tag !== undefined ? d.annotations?.[REF_NAME_ANNOTATION] !== tag : !(d.digest === desc.digest && !d.annotations?.[REF_NAME_ANNOTATION]),
    );
    manifests.push(entry);
    const next = { ...index, schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    const path = join(this.dir, 'index.json');
    const tmp = join(this.dir, `.index.json.${randomBytes(4).toString('hex')}`);
    writeFileSync(tmp, JSON.stringify(next));
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  }
}
