// Retries, redirects and auth handshakes against small in-process servers (fast).
import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { RegistryClient } from '../../../core/registry/client.ts';
import { parseReference } from '../../../core/registry/reference.ts';
import { staticCredentials } from '../../../core/registry/credentials.ts';
import { digestOf } from '../../../core/content/digest.ts';

afterAll(removeTempDirs);

const servers: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});
function serve(fetch: (req: Request) => Response | Promise<Response>) {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch });
  servers.push(s);
  return `127.0.0.1:${s.port}`;
}

const manifest = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: 'sha256:' + 'a'.repeat(64), size: 2 }, layers: [] }));
const okManifest = () => new Response(manifest, { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': digestOf(manifest) } });

describe('transport', () => {
  test('[slow] retries 503 and 429 (honouring Retry-After) then succeeds', async () => {
    const times: number[] = [];
    const host = serve(() => {
      times.push(Date.now());
      if (times.length === 1) return new Response('busy', { status: 503 });
      if (times.length === 2) return new Response('slow down', { status: 429, headers: { 'retry-after': '1' } });
      return okManifest();
    });
    const client = new RegistryClient({ retry: { baseDelayMs: 10 } });
    const m = await client.getManifest(parseReference(`${host}/a:1`));
    expect(m.digest).toBe(digestOf(manifest));
    expect(times.length).toBe(3);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(950);
  });

  test('gives up after the attempts, naming status and host', async () => {
    let n = 0;
    const host = serve(() => (n++, new Response('{"errors":[{"code":"UNAVAILABLE","message":"down for maintenance"}]}', { status: 503 })));
    const client = new RegistryClient({ retry: { attempts: 3, baseDelayMs: 5 } });
    await expect(client.getManifest(parseReference(`${host}/a:1`))).rejects.toThrow(`manifest ${host}/a:1: 503 service unavailable: down for maintenance at ${host}`);
    expect(n).toBe(3);
  });

  test('the deadline bounds total retry time', async () => {
    const host = serve(() => new Response('', { status: 502 }));
    const client = new RegistryClient({ retry: { attempts: 100, baseDelayMs: 100, deadlineMs: 400 } });
    const t = Date.now();
    await expect(client.getManifest(parseReference(`${host}/a:1`))).rejects.toThrow(/502 bad gateway/);
    expect(Date.now() - t).toBeLessThan(1500);
  });

  test('401 (after its challenge round), 403 and 416 are not retried; 408 is', async () => {
    for (const status of [401, 403, 416]) {
      let n = 0;
      const host = serve(() => (n++, new Response('', { status, headers: status === 401 ? { 'www-authenticate': 'Basic realm="r"' } : {} })));
      const client = new RegistryClient({ retry: { baseDelayMs: 5 }, credentials: [staticCredentials({ [host]: { username: 'u', password: 'wrong' } })] });
      await expect(client.getManifest(parseReference(`${host}/a:1`))).rejects.toThrow(`${status} `);
      expect(n).toBe(status === 401 ? 2 : 1);
    }
    let n = 0;
    const host = serve(() => (++n < 3 ? new Response('', { status: 408 }) : okManifest()));
    expect((await new RegistryClient({ retry: { baseDelayMs: 5 } }).getManifest(parseReference(`${host}/a:1`))).digest).toBe(digestOf(manifest));
    expect(n).toBe(3);
  });

  test('4xx other than 429 is not retried', async () => {
    let n = 0;
    const host = serve(() => (n++, new Response('', { status: 404 })));
    await expect(new RegistryClient({ retry: { baseDelayMs: 5 } }).getManifest(parseReference(`${host}/a:1`))).rejects.toThrow(`404 not found at ${host}`);
    expect(n).toBe(1);
  });

  test('redirects are followed; Authorization is dropped when the host changes', async () => {
    const seen: (string | null)[] = [];
    const blob = new TextEncoder().encode('blob-bytes');
    const storage = serve((req) => (seen.push(req.headers.get('authorization')), new Response(blob)));
    const host = serve((req) => {
      if (req.headers.get('authorization') !== 'Basic ' + btoa('u:p')) return new Response('', { status: 401, headers: { 'www-authenticate': 'Basic realm="r"' } });
      return new Response(null, { status: 307, headers: { location: `http://${storage}/data?sig=1` } });
    });
    const client = new RegistryClient({ credentials: [staticCredentials({ [host]: { username: 'u', password: 'p' } })] });
    const got = await client.fetchBlob(parseReference(`${host}/a`), digestOf(blob));
    expect(new TextDecoder().decode(got)).toBe('blob-bytes');
    expect(seen).toEqual([null]);
  });

  test('bearer tokens are cached per scope until they expire', async () => {
    const tokens: string[] = [];
    let issued = 0;
    const auth = serve((req) => {
      const url = new URL(req.url);
      issued++;
      tokens.push(url.searchParams.getAll('scope').join(' '));
      return Response.json({ token: `t${issued}`, expires_in: url.searchParams.get('scope')?.includes('short') ? 1 : 300 });
    });
    const host = serve((req) => {
      if (!req.headers.get('authorization')?.startsWith('Bearer t')) return new Response('', { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${auth}/token",service="svc"` } });
      return okManifest();
    });
    const client = new RegistryClient();
    const ref = parseReference(`${host}/a:1`);
    for (let i = 0; i < 3; i++) await client.getManifest(ref);
    expect(issued).toBe(1);
    await client.getManifest(parseReference(`${host}/b:1`));
    expect(tokens).toEqual(['repository:a:pull', 'repository:b:pull']);
  });

  test('a digest mismatch between header and bytes names both digests', async () => {
    const host = serve(() => new Response(manifest, { headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'docker-content-digest': 'sha256:' + '0'.repeat(64) } }));
    await expect(new RegistryClient().getManifest(parseReference(`${host}/a:1`))).rejects.toThrow(`manifest ${host}/a:1: registry says digest sha256:${'0'.repeat(64)} but content is ${digestOf(manifest)} at ${host}`);
    const pinned = parseReference(`${host}/a@sha256:${'1'.repeat(64)}`);
    await expect(new RegistryClient().getManifest(pinned)).rejects.toThrow(`content digest ${digestOf(manifest)} does not match sha256:${'1'.repeat(64)}`);
  });

  test('a server that ignores Range still yields the right slices', async () => {
    const data = new Uint8Array(300).map((_, i) => i & 0xff);
    const host = serve(() => new Response(data));
    const [a, b] = await new RegistryClient().fetchBlobRange(parseReference(`${host}/a`), digestOf(data), [{ offset: 10, length: 5 }, { offset: 200, length: 3 }]);
    expect([...a]).toEqual([10, 11, 12, 13, 14]);
    expect([...b]).toEqual([200, 201, 202]);
  });
});

describe('streamed blob ranges', () => {
  const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const collect = async (host: string, offset: number, length: number) => {
    const pieces: Uint8Array[] = [];
    await new RegistryClient().streamBlobRange(parseReference(`${host}/a`), digestOf(data), { offset, length }, (b) => pieces.push(b.slice()));
    return Buffer.concat(pieces);
  };
  const ranged = (req: Request) => {
    const m = /bytes=(\d+)-(\d+)/.exec(req.headers.get('range') ?? '')!;
    const [a, b] = [Number(m[1]), Number(m[2])];
    return new Response(data.slice(a, b + 1), { status: 206, headers: { 'content-range': `bytes ${a}-${b}/${data.length}` } });
  };

  test('a 206 answer is handed over in order, exactly the range', async () => {
    const host = serve(ranged);
    expect((await collect(host, 1000, 250_000)).equals(Buffer.from(data.subarray(1000, 251_000)))).toBe(true);
  });

  test('a server that ignores Range (200): skipped forward to the range, cut at its end', async () => {
    const host = serve(() => new Response(data));
    expect((await collect(host, 123_456, 1000)).equals(Buffer.from(data.subarray(123_456, 124_456)))).toBe(true);
  });

  test('a 206 for other bytes than asked, or a body that ends short, fails naming the blob', async () => {
    const wrong = serve(() => new Response(data.slice(0, 10), { status: 206, headers: { 'content-range': `bytes 0-9/${data.length}` } }));
    await expect(collect(wrong, 5, 10)).rejects.toThrow(`blob ${digestOf(data)} in ${wrong}/a: 206 for bytes 5-14`);
    const short = serve(() => new Response(data.slice(5, 10), { status: 206, headers: { 'content-range': `bytes 5-14/${data.length}` } }));
    await expect(collect(short, 5, 10)).rejects.toThrow('body ended 5 bytes short of bytes 5-14');
  });
});

describe('resuming blob downloads', () => {
  const data = new Uint8Array(200_000).map((_, i) => (i * 31) & 0xff);
  const digest = digestOf(data);

  async function ingestVia(host: string, retry = {}) {
    const { ContentStore } = await import('../../../core/content/store.ts');
    const store = new ContentStore(tempDir('eb-resume-'));
    const client = new RegistryClient({ retry: { baseDelayMs: 5, ...retry } });
    const repo = parseReference(`${host}/a`);
    await store.ingest({ digest, size: data.length }, (offset) => client.openBlob(repo, digest, offset));
    return store;
  }

  test('a stalled body times out and resumes with a Range request', async () => {
    const ranges: (string | null)[] = [];
    const host = serve((req) => {
      ranges.push(req.headers.get('range'));
      if (ranges.length === 1) {
        // Half the blob, then silence with the connection open.
        return new Response(new ReadableStream({ start: (c) => c.enqueue(data.subarray(0, 100_000)) }), { headers: { 'content-length': String(data.length) } });
      }
      const from = Number(req.headers.get('range')!.match(/bytes=(\d+)-/)![1]);
      return new Response(data.subarray(from), { status: 206, headers: { 'content-range': `bytes ${from}-${data.length - 1}/${data.length}` } });
    });
    const store = await ingestVia(host, { idleTimeoutMs: 200 });
    expect(ranges).toEqual([null, 'bytes=100000-']);
    expect(Buffer.from(await store.read(digest)).equals(Buffer.from(data))).toBe(true);
  });

  test('a server that answers the resume with 200 is skipped forward', async () => {
    let n = 0;
    const host = serve(() => {
      n++;
      if (n === 1) return new Response(new ReadableStream({ start: (c) => c.enqueue(data.subarray(0, 50_000)) }), { headers: { 'content-length': String(data.length) } });
      return new Response(data);
    });
    const store = await ingestVia(host, { idleTimeoutMs: 200 });
    expect(n).toBe(2);
    expect(await store.has(digest)).toBe(true);
  });
});

describe('identity tokens', () => {
  test('are exchanged with an oauth2 POST (grant_type=refresh_token)', async () => {
    const forms: Record<string, string>[] = [];
    const auth = serve(async (req) => {
      if (req.method !== 'POST') return new Response('', { status: 405 });
      forms.push(Object.fromEntries(new URLSearchParams(await req.text())));
      return Response.json({ access_token: 'tok', expires_in: 300 });
    });
    const host = serve((req) => (req.headers.get('authorization') === 'Bearer tok' ? okManifest() : new Response('', { status: 401, headers: { 'www-authenticate': `Bearer realm="http://${auth}/token",service="svc"` } })));
    const client = new RegistryClient({ credentials: [staticCredentials({ [host]: { identityToken: 'refresh-me' } })] });
    await client.getManifest(parseReference(`${host}/repo:1`));
    expect(forms).toEqual([{ grant_type: 'refresh_token', refresh_token: 'refresh-me', client_id: 'edgebuild', service: 'svc', scope: 'repository:repo:pull' }]);
  });
});

describe('endpoints', () => {
  test('loopback hosts default to plain HTTP, TLS settings switch them to https', () => {
    expect(new RegistryClient().endpoints('127.0.0.1:5000', true)[0].base).toBe('http://127.0.0.1:5000');
    const c = new RegistryClient({ registries: { '127.0.0.1:5000': { mirrors: [], http: false, insecure: true, ca: [] } } });
    expect(c.endpoints('127.0.0.1:5000', true)[0]).toMatchObject({ base: 'https://127.0.0.1:5000', tls: { rejectUnauthorized: false } });
    expect(new RegistryClient().endpoints('ghcr.io', true)[0].base).toBe('https://ghcr.io');
    expect(new RegistryClient().endpoints('docker.io', true)[0].base).toBe('https://registry-1.docker.io');
  });
});
