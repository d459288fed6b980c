// A registry that refuses the credentials (401/403) is an answer, not a glitch: lazy TOC and chunk
// fetches fail at once, with one line naming host, repository and layer, instead of retrying until
// the fetch deadline (the snapshotter then falls back to a pull, or a read gets EIO).
import { afterAll, describe, expect, test } from "bun:test";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { RegistryClient } from "../../../core/registry/client.ts";
import { staticCredentials, type Credential, type CredentialSource } from "../../../core/registry/credentials.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";
import { startCountingProxy } from "../../harness/counting-proxy.ts";
import { startRegistry } from "../../harness/registry.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { fuseMountsUnder, layerDir, layerTar, pushEstargz, testConfig, via } from "./helpers.ts";
import { CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

afterAll(removeTempDirs);

/** The old behaviour retried for the whole fetch deadline (30 s by default, ~20 requests). */
const FAST_MS = 5_000;

describe("lazy layers on a registry that refuses the credentials", () => {
  test("[slow] htpasswd registry, wrong password: the mount fails at once and the snapshotter can fall back", async () => {
    const reg = await startRegistry({ kind: "basic", users: { alice: "right" } });
    const proxy = startCountingProxy(reg.host);
    const root = tempDir("stargz-auth-");
    const logs: string[] = [];
    let cred: Credential = { username: "alice", password: "wrong" };
    const credentials: CredentialSource = { get: async (host) => (host === proxy.host ? cred : undefined) };
    const s = new StargzSnapshotter({ root, config: testConfig(), credentials: [credentials], log: (m) => logs.push(m) });
    try {
      const pusher = new RegistryClient({ credentials: [staticCredentials({ [reg.host]: { username: "alice", password: "right" } })] });
      const pushed = await pushEstargz(reg.host, "auth/sample", layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK }, pusher);
      const layer = via(pushed.layer, proxy.host);
      const digest = layer.descriptor.digest;

      const t0 = Date.now();
      const r = await s.prepareRemote("layer/wrong", undefined, layer);
      const took = Date.now() - t0;
      expect(r).toEqual({ lazy: false, reason: `blob ${digest} in ${proxy.host}/auth/sample: 401 unauthorized at ${proxy.host} (check credentials)` });
      expect(took).toBeLessThan(FAST_MS);
      // The footer request (and the speculative head asked for with it) unauthenticated, then once
      // with the (wrong) Basic credentials: no range is asked for again; a head still on its way
      // when the layer failed was stopped (no status).
      const perRange = new Map<string, (number | undefined)[]>();
      for (const q of proxy.requests) perRange.set(q.range ?? "", [...(perRange.get(q.range ?? "") ?? []), q.status]);
      const footer = [...perRange].find(([r]) => r.endsWith(`-${pushed.blob.length - 1}`));
      expect(footer?.[1]).toEqual([401, 401]);
      for (const [, statuses] of perRange) {
        expect(statuses.length).toBeLessThanOrEqual(2);
        for (const st of statuses) expect([401, undefined]).toContain(st);
      }
      expect(fuseMountsUnder(root)).toEqual([]);

      // The same layer with the right password mounts lazily and reads: the failure was the credentials.
      cred = { username: "alice", password: "right" };
      expect(await s.prepareRemote("layer/right", undefined, layer)).toEqual({ lazy: true });
      const hostname = await readFile(join(await layerDir(s, "layer/right"), "etc/hostname"), "utf8");
      expect(hostname).toBe("edgebuild\n");
    } finally {
      await s.close();
      proxy.stop();
      await reg.stop();
    }
  }, 60_000);

  test("[slow] token registry, user revoked after the mount: a read needing the network fails with EIO at once", async () => {
    // The client refreshes a token 10 s before it expires (at least 1 s after issue): with a 11 s
    // lifetime it asks for a new one after 1 s, and the token server then refuses the user.
    const users: Record<string, string> = { bob: "secret" };
    const reg = await startRegistry({ kind: "token", users, ttl: 11 });
    const proxy = startCountingProxy(reg.host);
    const root = tempDir("stargz-auth-");
    const logs: string[] = [];
    const s = new StargzSnapshotter({
      root,
      config: testConfig({ noprefetch: true }),
      credentials: [{ get: async (host) => (host === proxy.host ? { username: "bob", password: "secret" } : undefined) }],
      log: (m) => logs.push(m),
    });
    try {
      const pusher = new RegistryClient({ credentials: [staticCredentials({ [reg.host]: { username: "bob", password: "secret" } })] });
      const pushed = await pushEstargz(reg.host, "auth/revoked", layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK }, pusher);
      const layer = via(pushed.layer, proxy.host);
      const digest = layer.descriptor.digest;
      expect(await s.prepareRemote("layer/r", undefined, layer)).toEqual({ lazy: true });
      const dir = await layerDir(s, "layer/r");
      users.bob = "rotated";
      await Bun.sleep(1_200);
      const issuedBefore = reg.token!.issued.length;
      const requestsBefore = proxy.requests.length;

      const t0 = Date.now();
      let code: string | undefined;
      try {
        await readFile(join(dir, "bin/busybox"));
      } catch (e) {
        code = (e as NodeJS.ErrnoException).code;
      }
      const took = Date.now() - t0;
      expect(code).toBe("EIO");
      expect(took).toBeLessThan(FAST_MS);
      // The refresh was refused, so no blob request went out with a stale token, and no token was issued.
      expect(proxy.requests.length - requestsBefore).toBe(0);
      expect(reg.token!.issued.length).toBe(issuedBefore);
      const line = logs.find((l) => l.includes("401"));
      expect(line).toContain(`blob ${digest} in ${proxy.host}/auth/revoked: 401 unauthorized at ${proxy.host} (token from 127.0.0.1:${reg.token!.port})`);
      expect(line).not.toContain("\n");
    } finally {
      await s.close();
      proxy.stop();
      await reg.stop();
    }
  }, 60_000);
});
