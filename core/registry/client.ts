// OCI distribution client: manifests (digest-verified), blobs (streamed, ranged), pushes
// (monolithic, chunked, cross-repository mount) over Bun's fetch. Pulls try mirrors first.
import { Authorizer } from './auth.ts';
import { Transport, DEFAULT_RETRY, type RetryPolicy, type RequestSpec } from './transport.ts';
import { endpointsFor, type Endpoint, type RegistryConfigMap } from './endpoint.ts';
import { RegistryError } from './errors.ts';
import { familiarName, formatReference, manifestReference, type Reference } from './reference.ts';
import type { CredentialSource } from './credentials.ts';
import { parseByteranges, boundaryOf, parseContentRange } from './multipart.ts';
import { digestOf } from '../content/digest.ts';
import { withIdleTimeout } from './idle-timeout.ts';
import { MANIFEST_ACCEPT } from '../image/media-types.ts';

export interface RegistryClientOptions {
  /** `[registry."host"]` tables of the config. */
  registries?: RegistryConfigMap;
  credentials?: readonly CredentialSource[];
  retry?: Partial<RetryPolicy>;
  userAgent?: string;
  signal?: AbortSignal;
  /** Bytes per PATCH for chunked uploads; blobs up to this size go in one PUT. */
  chunkSize?: number;
}

export interface FetchedManifest {
  bytes: Uint8Array;
  digest: string;
  mediaType: string;
  /** Endpoint host that served it (a mirror or the origin). */
  host: string;
}

export interface ByteRange {
  offset: number;
  length: number;
}

/** Anything with a repository on a registry (a Reference works). */
export type RepoRef = Pick<Reference, 'registry' | 'repository'>;

export type BlobBody = Blob | Uint8Array | (() => ReadableStream<Uint8Array>);

const MAX_MANIFEST = 4 * 1024 * 1024;

const pullScope = (r: RepoRef) => [`repository:${r.repository}:pull`];
const pushScope = (r: RepoRef) => [`repository:${r.repository}:pull,push`];

export class RegistryClient {
  readonly transport: Transport;
  private readonly registries: RegistryConfigMap;
  private readonly signal?: AbortSignal;
  private readonly chunkSize: number;
  /** Mirrors that failed to connect are skipped for the rest of this client's life. */
  private readonly downMirrors = new Set<string>();

  constructor(opts: RegistryClientOptions = {}) {
    const ua = opts.userAgent ?? 'edgebuild/0.1';
    this.transport = new Transport(new Authorizer(opts.credentials ?? [], ua), { ...DEFAULT_RETRY, ...opts.retry }, ua);
    this.registries = opts.registries ?? {};
    this.signal = opts.signal;
    this.chunkSize = opts.chunkSize ?? 64 * 1024 * 1024;
  }

  endpoints(registry: string, forPull: boolean): Endpoint[] {
    return endpointsFor(registry, this.registries, forPull).filter((e) => !e.mirror || !this.downMirrors.has(e.host));
  }

  /** Runs a read against each endpoint in turn; a mirror's failure falls through to the next. */
  private async pullFrom<T>(repo: RepoRef, run: (ep: Endpoint, base: Omit<RequestSpec, 'method' | 'path' | 'what'>) => Promise<T>): Promise<T> {
    const eps = this.endpoints(repo.registry, true);
    let last: unknown;
    for (const ep of eps) {
      try {
        return await run(ep, { ep, registry: repo.registry, scopes: pullScope(repo), noRetry: ep.mirror, signal: this.signal });
      } catch (e) {
        if (!ep.mirror) throw e;
        if (e instanceof RegistryError && e.status === undefined) this.downMirrors.add(ep.host);
        last = e;
      }
    }
    throw last ?? new RegistryError(`${repo.registry}: no endpoint`);
  }

  private origin(repo: RepoRef): Endpoint {
    return this.endpoints(repo.registry, false)[0];
  }

  /** GETs a manifest by tag or digest and checks its bytes against every digest we were told. */
  async getManifest(ref: Reference, digest?: string): Promise<FetchedManifest> {
    const what = `manifest ${familiarName(digest ? { ...ref, tag: undefined, digest } : ref)}`;
    const want = digest ?? ref.digest;
    return this.pullFrom(ref, async (ep, base) => {
      const res = await this.transport.request({ ...base, method: 'GET', path: `/v2/${ref.repository}/manifests/${want ?? manifestReference(ref)}`, headers: { Accept: MANIFEST_ACCEPT }, what });
      const declared = Number(res.headers.get('content-length') ?? '0');
      if (declared > MAX_MANIFEST) {
        await res.body?.cancel();
        throw new RegistryError(`${what}: manifest of ${declared} bytes is larger than the ${MAX_MANIFEST} byte limit at ${ep.host}`);
      }
      const bytes = new Uint8Array(await res.arrayBuffer());
      const actual = digestOf(bytes);
      const header = res.headers.get('docker-content-digest');
      if (want && actual !== want) throw new RegistryError(`${what}: content digest ${actual} does not match ${want} at ${ep.host}`);
      if (header && header !== actual) throw new RegistryError(`${what}: registry says digest ${header} but content is ${actual} at ${ep.host}`);
      return { bytes, digest: actual, mediaType: res.headers.get('content-type')?.split(';')[0].trim() ?? '', host: ep.host };
    });
  }

  /** HEADs a manifest: its digest and media type without the body (undefined when absent). */
  async headManifest(ref: Reference): Promise<{ digest: string; mediaType: string; size: number } | undefined> {
    const ep = this.origin(ref);
    const res = await this.transport.request({ ep, registry: ref.registry, scopes: pullScope(ref), signal: this.signal, method: 'HEAD', path: `/v2/${ref.repository}/manifests/${manifestReference(ref)}`, headers: { Accept: MANIFEST_ACCEPT }, what: `manifest ${formatReference(ref)}`, accept: [404] });
    if (res.status === 404) return undefined;
    const digest = res.headers.get('docker-content-digest');
    if (!digest) return undefined;
    return { digest, mediaType: res.headers.get('content-type') ?? '', size: Number(res.headers.get('content-length') ?? 0) };
  }

  /**
   * Streams a blob from `offset` (a Range request when > 0; a server ignoring Range is handled by
   * skipping). The caller verifies the digest (ContentStore.ingest does).
   */
  async openBlob(repo: RepoRef, digest: string, offset = 0): Promise<ReadableStream<Uint8Array>> {
    const what = `blob ${digest} in ${repo.registry}/${repo.repository}`;
    return this.pullFrom(repo, async (ep, base) => {
      const headers: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
      const res = await this.transport.request({ ...base, method: 'GET', path: `/v2/${repo.repository}/blobs/${digest}`, headers, what });
      if (!res.body) throw new RegistryError(`${what}: empty response`);
      const body = withIdleTimeout(res.body, this.transport.retry.idleTimeoutMs, what, ep.host);
      if (offset > 0 && res.status !== 206) return skipBytes(body, offset);
      if (offset > 0 && parseContentRange(res.headers.get('content-range'))?.start !== offset) {
        await body.cancel();
        throw new RegistryError(`${what}: asked for bytes from ${offset}, got Content-Range ${res.headers.get('content-range')} at ${ep.host}`);
      }
      return body;
    });
  }

  /** A small blob (config) read whole and verified. */
  async fetchBlob(repo: RepoRef, digest: string, maxSize = 64 * 1024 * 1024): Promise<Uint8Array> {
    const stream = await this.openBlob(repo, digest);
    const chunks: Uint8Array[] = [];
    let n = 0;
    for await (const c of stream) {
      n += c.length;
      if (n > maxSize) throw new RegistryError(`blob ${digest}: larger than ${maxSize} bytes`);
      chunks.push(c);
    }
    const bytes = Buffer.concat(chunks);
    const actual = digestOf(bytes);
    if (actual !== digest) throw new RegistryError(`blob ${digest} in ${repo.registry}/${repo.repository}: content has digest ${actual} (corrupt or altered)`);
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /**
   * Reads byte ranges of a blob: one request (multi-range when asked for several), answered as
   * 206 single, 206 multipart/byteranges, or 200 (then sliced). Bytes are not digest-checked here:
   * lazy readers verify chunks against the eStargz TOC.
   */
  async fetchBlobRange(repo: RepoRef, digest: string, ranges: ByteRange[]): Promise<Uint8Array[]> {
    if (ranges.length === 0) return [];
    for (const r of ranges) if (r.length <= 0 || r.offset < 0) throw new RegistryError(`blob ${digest}: invalid range offset ${r.offset} length ${r.length}`);
    const what = `blob ${digest} in ${repo.registry}/${repo.repository}`;
    const spec = ranges.map((r) => `${r.offset}-${r.offset + r.length - 1}`).join(',');
    const segments = await this.pullFrom(repo, async (ep, base) => {
      const res = await this.transport.request({ ...base, method: 'GET', path: `/v2/${repo.repository}/blobs/${digest}`, headers: { Range: `bytes=${spec}` }, what });
      const type = res.headers.get('content-type') ?? '';
      if (res.status === 206 && /^multipart\/byteranges/i.test(type)) {
        const boundary = boundaryOf(type);
        if (!boundary) throw new RegistryError(`${what}: multipart response without boundary at ${ep.host}`);
        return parseByteranges(new Uint8Array(await res.arrayBuffer()), boundary);
      }
      if (res.status === 206) {
        const cr = parseContentRange(res.headers.get('content-range'));
        if (!cr) throw new RegistryError(`${what}: 206 without a valid Content-Range at ${ep.host}`);
        return [{ start: cr.start, bytes: new Uint8Array(await res.arrayBuffer()) }];
      }
      // 200: the server ignored Range; read only as far as the last byte we need.
      const end = Math.max(...ranges.map((r) => r.offset + r.length));
      return [{ start: 0, bytes: await readPrefix(res.body!, end) }];
    });
    return ranges.map((r) => {
      const seg = segments.find((s) => s.start <= r.offset && s.start + s.bytes.length >= r.offset + r.length);
      if (!seg) throw new RegistryError(`${what}: response lacks bytes ${r.offset}-${r.offset + r.length - 1}`);
      // The usual single range is the whole segment: hand it over as is, no copy.
      if (seg.start === r.offset && seg.bytes.length === r.length) return seg.bytes;
      return seg.bytes.slice(r.offset - seg.start, r.offset - seg.start + r.length);
    });
  }

  /**
   * One byte range of a blob handed to `onData` as it arrives: contiguous pieces in order, the
   * first starting at range.offset, `length` bytes in all. Resolves once all are delivered; a body
   * that ends early or breaks fails with what was delivered so far kept by the caller (resume with
   * the rest). A server that ignores Range (200) is read up to the range and skipped forward to it.
   * `signal` stops it, also mid-body.
   */
  async streamBlobRange(repo: RepoRef, digest: string, range: ByteRange, onData: (bytes: Uint8Array) => void, signal?: AbortSignal): Promise<void> {
    if (range.length <= 0 || range.offset < 0) throw new RegistryError(`blob ${digest}: invalid range offset ${range.offset} length ${range.length}`);
    const what = `blob ${digest} in ${repo.registry}/${repo.repository}`;
    const last = range.offset + range.length - 1;
    const res = await this.pullFrom(repo, (ep, base) =>
      this.transport.request({ ...base, signal: signal && base.signal ? AbortSignal.any([signal, base.signal]) : (signal ?? base.signal), method: 'GET', path: `/v2/${repo.repository}/blobs/${digest}`, headers: { Range: `bytes=${range.offset}-${last}` }, what }),
    );
    const type = res.headers.get('content-type') ?? '';
    if (res.status === 206 && /^multipart\/byteranges/i.test(type)) {
      await res.body?.cancel();
      return onData((await this.fetchBlobRange(repo, digest, [range]))[0]);
    }
    let skip = 0;
    if (res.status === 206) {
      const cr = parseContentRange(res.headers.get('content-range'));
      if (!cr || cr.start !== range.offset) {
        await res.body?.cancel();
        throw new RegistryError(`${what}: 206 for bytes ${range.offset}-${last} with Content-Range ${JSON.stringify(res.headers.get('content-range'))}`);
      }
    } else skip = range.offset; // 200: the whole blob from its start
    let left = range.length;
    const reader = res.body!.getReader();
    // An abort after the response head stops the body too (the connection is dropped).
    const onAbort = () => void reader.cancel().catch(() => {});
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      while (left > 0) {
        const { value, done } = await reader.read();
        if (done) throw new RegistryError(`${what}: body ended ${left} bytes short of bytes ${range.offset}-${last}`);
        let piece = value;
        if (skip > 0) {
          const n = Math.min(skip, piece.length);
          skip -= n;
          piece = piece.subarray(n);
        }
        if (piece.length === 0) continue;
        if (piece.length > left) piece = piece.subarray(0, left);
        left -= piece.length;
        onData(piece);
      }
      // A 206 body ends here: read its end so the connection goes back to the pool (a cancel
      // could close it, and the next request would pay a connect and slow start).
      if (res.status === 206) while (!(await reader.read()).done);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      await reader.cancel().catch(() => {});
    }
  }

  /** Size of a blob when the repository has it (HEAD), else undefined. */
  async blobExists(repo: RepoRef, digest: string): Promise<number | undefined> {
    const ep = this.origin(repo);
    const res = await this.transport.request({ ep, registry: repo.registry, scopes: pushScope(repo), signal: this.signal, method: 'HEAD', path: `/v2/${repo.repository}/blobs/${digest}`, what: `blob ${digest}`, accept: [404] });
    await res.body?.cancel();
    return res.status === 404 ? undefined : Number(res.headers.get('content-length') ?? 0);
  }

  /**
   * Cross-repository mount. Returns true when the registry linked the blob (201); on 202 it
   * started an upload instead, which we cancel so the caller uploads normally.
   */
  async mountBlob(repo: RepoRef, digest: string, from: string): Promise<boolean> {
    const ep = this.origin(repo);
    const scopes = [...pushScope(repo), `repository:${from}:pull`];
    const q = new URLSearchParams({ mount: digest, from });
    const res = await this.transport.request({ ep, registry: repo.registry, scopes, signal: this.signal, method: 'POST', path: `/v2/${repo.repository}/blobs/uploads/?${q}`, what: `mount of blob ${digest} from ${from}`, accept: [201, 202] });
    await res.body?.cancel();
    if (res.status === 201) return true;
    const location = res.headers.get('location');
    if (location) {
      const url = new URL(location, ep.base);
      await this.transport.request({ ep, registry: repo.registry, scopes, signal: this.signal, method: 'DELETE', path: url.href, what: `upload of blob ${digest}`, accept: [404, 405] }).then((r) => r.body?.cancel()).catch(() => {});
    }
    return false;
  }

  /** Uploads a blob: one PUT up to chunkSize, PATCH chunks then PUT beyond it (Blob bodies). */
  async uploadBlob(repo: RepoRef, digest: string, size: number, body: BlobBody): Promise<void> {
    const ep = this.origin(repo);
    const base = { ep, registry: repo.registry, scopes: pushScope(repo), signal: this.signal };
    const what = `upload of blob ${digest} to ${repo.registry}/${repo.repository}`;
    const start = await this.transport.request({ ...base, method: 'POST', path: `/v2/${repo.repository}/blobs/uploads/`, what, headers: { 'Content-Length': '0' } });
    await start.body?.cancel();
    let location = this.location(start, ep, what);
    const octet = { 'Content-Type': 'application/octet-stream' };
    const chunked = body instanceof Blob && size > this.chunkSize;
    if (chunked) {
      for (let off = 0; off < size; off += this.chunkSize) {
        const end = Math.min(size, off + this.chunkSize);
        const slice = body.slice(off, end);
        const res = await this.transport.request({
          ...base,
          method: 'PATCH',
          path: location,
          what,
          headers: { ...octet, 'Content-Range': `${off}-${end - 1}`, 'Content-Length': String(end - off) },
          body: () => slice,
          // A retried chunk would be rejected as out of order; the caller retries the blob.
          noRetry: true,
        });
        await res.body?.cancel();
        location = this.location(res, ep, what);
      }
    }
    const url = new URL(location);
    url.searchParams.set('digest', digest);
    const put = await this.transport.request({
      ...base,
      method: 'PUT',
      path: url.href,
      what,
      headers: chunked ? { 'Content-Length': '0' } : { ...octet, ...(body instanceof Blob || body instanceof Uint8Array ? { 'Content-Length': String(size) } : {}) },
      body: chunked ? undefined : () => (typeof body === 'function' ? body() : body),
      noRetry: typeof body === 'function',
    });
    await put.body?.cancel();
    const stored = put.headers.get('docker-content-digest');
    if (stored && stored !== digest) throw new RegistryError(`${what}: registry stored ${stored}, expected ${digest} at ${ep.host}`);
  }

  private location(res: Response, ep: Endpoint, what: string): string {
    const loc = res.headers.get('location');
    if (!loc) throw new RegistryError(`${what}: ${res.status} without Location header at ${ep.host}`);
    return new URL(loc, ep.base + '/').href;
  }

  /** PUTs manifest bytes as they are under a tag or digest; returns the digest the registry reports. */
  async putManifest(ref: Reference, bytes: Uint8Array, mediaType: string, reference = manifestReference(ref)): Promise<string> {
    const ep = this.origin(ref);
    const digest = digestOf(bytes);
    const what = `manifest ${ref.registry}/${ref.repository}:${reference}`;
    const res = await this.transport.request({ ep, registry: ref.registry, scopes: pushScope(ref), signal: this.signal, method: 'PUT', path: `/v2/${ref.repository}/manifests/${reference}`, headers: { 'Content-Type': mediaType }, body: () => bytes, what });
    await res.body?.cancel();
    const stored = res.headers.get('docker-content-digest');
    if (stored && stored !== digest) throw new RegistryError(`${what}: registry stored ${stored}, expected ${digest} at ${ep.host}`);
    return digest;
  }
}

function skipBytes(stream: ReadableStream<Uint8Array>, skip: number): ReadableStream<Uint8Array> {
  let left = skip;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, ctl) {
        if (left >= chunk.length) {
          left -= chunk.length;
          return;
        }
        ctl.enqueue(left > 0 ? chunk.subarray(left) : chunk);
        left = 0;
      },
    }),
  );
}

async function readPrefix(stream: ReadableStream<Uint8Array>, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let got = 0;
  const reader = stream.getReader();
  while (got < n) {
    const { value, done } = await reader.read();
    if (done) break;
    const take = Math.min(value.length, n - got);
    out.set(value.subarray(0, take), got);
    got += take;
  }
  await reader.cancel().catch(() => {});
  return out.subarray(0, got);
}
