// BlobSource (the lazy layer's only network path): which registry answers are retried until the
// deadline and which fail at once (fast: small in-process servers).
import { afterEach, describe, expect, test } from "bun:test";
import { RegistryClient } from "../../../core/registry/client.ts";
import { staticCredentials } from "../../../core/registry/credentials.ts";
import { BlobSource } from "../../../plugins/snapshotter-stargz/blob-source.ts";

const servers: { stop(force?: boolean): void }[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.stop(true);
});
function serve(fetch: (req: Request) => Response | Promise<Response>): string {
  const s = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch });
  servers.push(s);
  return `127.0.0.1:${s.port}`;
}

const DIGEST = `sha256:${"ab".repeat(32)}`;
const BYTES = new Uint8Array(1000).map((_, i) => i & 0xff);

/** A source with the snapshotter's default waits and a deadline far above what a test may take. */
function source(host: string, credentials = staticCredentials({})): BlobSource {
  const client = new RegistryClient({ credentials: [credentials], retry: { attempts: 3, baseDelayMs: 30, maxDelayMs: 2000 } });
  return new BlobSource({ client, repo: { registry: host, repository: "team/app" }, digest: DIGEST, size: BYTES.length, deadlineMs: 30_000, minWaitMs: 30, maxWaitMs: 2000 });
}

async function failure(p: Promise<unknown>): Promise<{ message: string; ms: number }> {
  const t0 = Date.now();
  try {
    await p;
  } catch (e) {
    return { message: (e as Error).message, ms: Date.now() - t0 };
  }
  throw new Error("expected the fetch to fail");
}

describe("BlobSource", () => {
  test("401 with wrong Basic credentials: the challenge round only, then one line naming host, repository and blob", async () => {
    const seen: (string | null)[] = [];
    const host = serve((req) => {
      seen.push(req.headers.get("authorization"));
      return new Response('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}', { status: 401, headers: { "www-authenticate": 'Basic realm="r"' } });
    });
    const src = source(host, staticCredentials({ [host]: { username: "u", password: "wrong" } }));
    const { message, ms } = await failure(src.fetch([{ offset: 0, length: 100 }]));
    expect(message).toBe(`blob ${DIGEST} in ${host}/team/app: 401 unauthorized at ${host} (check credentials)`);
    expect(seen).toEqual([null, `Basic ${btoa("u:wrong")}`]);
    expect(src.requests).toBe(1);
    expect(ms).toBeLessThan(2000);
  });

  test("401 to a Bearer token: one token refresh, then fail at once", async () => {
    let tokens = 0;
    const auth = serve(() => Response.json({ token: `t${++tokens}`, expires_in: 300 }));
    let gets = 0;
    const host = serve(() => (gets++, new Response("", { status: 401, headers: { "www-authenticate": `Bearer realm="http://${auth}/token",service="svc"` } })));
    const src = source(host);
    const first = await failure(src.fetch([{ offset: 0, length: 100 }]));
    expect(first.message).toBe(`blob ${DIGEST} in ${host}/team/app: 401 unauthorized at ${host} (check credentials)`);
    expect([gets, tokens]).toEqual([2, 1]);
    // The next read: the cached token is sent, refused, refreshed once, refused again.
    await failure(src.fetch([{ offset: 0, length: 100 }]));
    expect([gets, tokens]).toEqual([4, 2]);
  });

  test("a token server refusing the credentials fails at once, naming the blob", async () => {
    let tokenGets = 0;
    const auth = serve(() => (tokenGets++, new Response("", { status: 401 })));
    const host = serve(() => new Response("", { status: 401, headers: { "www-authenticate": `Bearer realm="http://${auth}/token",service="svc"` } }));
    const { message, ms } = await failure(source(host, staticCredentials({ [host]: { username: "u", password: "wrong" } })).fetch([{ offset: 0, length: 100 }]));
    expect(message).toStartWith(`blob ${DIGEST} in ${host}/team/app: 401 unauthorized at ${host} (token from ${auth})`);
    expect(tokenGets).toBe(1);
    expect(ms).toBeLessThan(2000);
  });

  test("403, 404 and 416 are answers: one request each", async () => {
    for (const status of [403, 404, 416]) {
      let n = 0;
      const host = serve(() => (n++, new Response("", { status })));
      const src = source(host);
      const { message, ms } = await failure(src.fetch([{ offset: 0, length: 100 }]));
      expect(message).toStartWith(`blob ${DIGEST} in ${host}/team/app: ${status} `);
      expect(message).not.toContain("\n");
      expect([n, src.requests]).toEqual([1, 1]);
      expect(ms).toBeLessThan(2000);
    }
  });

  test("503 and 408 are transient: retried until the registry answers", async () => {
    let n = 0;
    const host = serve((req) => {
      n++;
      if (n === 1) return new Response("", { status: 503 });
      if (n <= 3) return new Response("", { status: 408 });
      const [start, end] = req.headers.get("range")!.slice(6).split("-").map(Number);
      return new Response(BYTES.slice(start, end + 1), { status: 206, headers: { "content-range": `bytes ${start}-${end}/${BYTES.length}` } });
    });
    const [got] = await source(host).fetch([{ offset: 10, length: 5 }]);
    expect([...got]).toEqual([10, 11, 12, 13, 14]);
    expect(n).toBe(4);
  });
});
