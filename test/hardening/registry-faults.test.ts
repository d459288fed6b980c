// Registry faults through the fault proxy in front of a real docker-registry: pull (into the
// content store), copy (registry → OCI layout) and push (OCI layout → registry) each meet every
// fault kind, once transient (fires twice, then the proxy behaves) and once persistent. Transient
// retryable faults must be ridden out; persistent ones must fail within the configured deadline
// with one line naming the host and the digest; wrong bytes must never be stored. The table of
// outcomes is printed at the end.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, createHash } from 'node:crypto';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { startFaultProxy, type Fault, type FaultProxy } from '../harness/fault-proxy.ts';
import { buildImage, skopeoOk, type BuiltImage } from '../harness/registry-images.ts';
import { tempDir, removeTempDirs } from '../harness/temp-dir.ts';
import { RegistryClient } from '../../core/registry/client.ts';
import { ContentStore } from '../../core/content/store.ts';
import { ImageStore } from '../../core/content/images.ts';
import { pullImage } from '../../core/image/pull.ts';
import { copyImage } from '../../core/image/copy.ts';
import { dockerDestination, dockerSource, ociDestination, ociSource } from '../../core/image/transports.ts';
import { parseReference } from '../../core/registry/reference.ts';
import type { RetryPolicy } from '../../core/registry/transport.ts';
import { edgebuild } from '../harness/edgebuild.ts';
import { storedBlobs } from '../harness/store-contents.ts';

/** The configured policy: small, so persistent faults give up within a few seconds. */
const RETRY: Partial<RetryPolicy> = { attempts: 6, baseDelayMs: 20, maxDelayMs: 200, deadlineMs: 2500, headerTimeoutMs: 1500, idleTimeoutMs: 400 };
/** Persistent faults must end within this (deadline plus resumes of a stalled body). */
const GIVE_UP_WITHIN_MS = 9000;

let reg: TestRegistry;
let proxy: FaultProxy;
let img: BuiltImage;
let big: string; // digest of the large layer: the blob that gets the faults

afterAll(removeTempDirs);
beforeAll(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.host);
  img = await buildImage({ layers: [{ 'a.txt': 'small layer' }, { 'big.bin': randomBytes(400_000) }] });
  skopeoOk('copy', '--dest-tls-verify=false', `oci:${img.dir}:${img.tag}`, `docker://${reg.host}/src/app:1`);
  big = img.manifests[0].layers[1].digest;
}, 60_000);
afterAll(async () => {
  printTable();
  await proxy?.stop();
  await reg?.stop();
});

type Op = 'pull' | 'copy' | 'push';
const results: { op: Op; fault: string; mode: string; outcome: string }[] = [];

function printTable(): void {
  const faults = [...new Set(results.map((r) => `${r.fault} ${r.mode}`))];
  const lines = ['fault × operation: ' + ['pull', 'copy', 'push'].join(' | ')];
  for (const f of faults) lines.push(`${f}: ${(['pull', 'copy', 'push'] as Op[]).map((op) => results.find((r) => r.op === op && `${r.fault} ${r.mode}` === f)?.outcome ?? 'n/a').join(' | ')}`);
  console.log(lines.join('\n'));
}

const blobPath = (digest: string) => new RegExp(`/blobs/${digest}$`);
const uploadPath = /\/blobs\/uploads\//;

/** Every blob in a content store root or layout dir matches its name, and no temp file is left. */
function assertOnlyVerified(blobDir: string, tmpDir?: string): void {
  if (!existsSync(blobDir)) return;
  for (const name of readdirSync(blobDir)) {
    expect(name).toMatch(/^[a-f0-9]{64}$/);
    expect(createHash('sha256').update(readFileSync(join(blobDir, name))).digest('hex')).toBe(name);
  }
  if (tmpDir && existsSync(tmpDir)) expect(readdirSync(tmpDir)).toEqual([]);
}

async function runOp(op: Op): Promise<void> {
  const client = new RegistryClient({ retry: RETRY });
  const viaProxy = parseReference(`${proxy.host}/src/app:1`);
  if (op === 'pull') {
    const root = tempDir('eb-fault-pull-');
    try {
      await pullImage(viaProxy, { client, store: new ContentStore(root), images: new ImageStore(root) });
    } finally {
      assertOnlyVerified(join(root, 'content', 'blobs', 'sha256'), join(root, 'content', 'ingest'));
    }
  } else if (op === 'copy') {
    const dir = tempDir('eb-fault-copy-');
    try {
      await copyImage(dockerSource(client, viaProxy), ociDestination(dir, 'x'));
    } finally {
      const blobs = join(dir, 'blobs', 'sha256');
      assertOnlyVerified(blobs);
      if (existsSync(blobs)) expect(readdirSync(blobs).filter((n) => n.startsWith('.tmp'))).toEqual([]);
    }
  } else {
    const dst = parseReference(`${proxy.host}/dst/app${randomBytes(3).toString('hex')}:1`);
    await copyImage(ociSource(img.dir, img.tag), dockerDestination(client, dst));
    // What the registry holds must be the right bytes (it verifies digests itself; check anyway).
    const back = await new RegistryClient().getManifest(parseReference(`${reg.host}/${dst.repository}:1`));
    expect(back.digest).toBe(img.top.digest);
  }
}

interface FaultCase {
  name: string;
  fault: (op: Op) => Fault | undefined;
  /** Which requests: blob GETs for pull/copy, upload requests for push. */
  transient: 'ok' | RegExp;
  persistent: 'ok' | RegExp | 'skip';
}

const CASES: FaultCase[] = [
  { name: 'latency 300ms', fault: () => ({ kind: 'latency', ms: 300 }), transient: 'ok', persistent: 'ok' },
  { name: '500', fault: () => ({ kind: 'status', status: 500 }), transient: 'ok', persistent: /500 internal server error: injected 500 at 127\.0\.0\.1:\d+/ },
  { name: '503', fault: () => ({ kind: 'status', status: 503 }), transient: 'ok', persistent: /503 service unavailable: injected 503 at 127\.0\.0\.1:\d+/ },
  { name: '429 Retry-After 1', fault: () => ({ kind: 'status', status: 429, retryAfter: '1' }), transient: 'ok', persistent: /429 too many requests: injected 429 at 127\.0\.0\.1:\d+/ },
  { name: '429 Retry-After 3600 (beyond the deadline)', fault: () => ({ kind: 'status', status: 429, retryAfter: '3600' }), transient: /429 too many requests/, persistent: /429 too many requests/ },
  { name: 'reset mid-body', fault: (op) => (op === 'push' ? { kind: 'reset', afterBytes: 0 } : { kind: 'reset', afterBytes: 100_000 }), transient: 'ok', persistent: /connection|reset|socket|closed/i },
  { name: 'truncated body', fault: (op) => (op === 'push' ? undefined : { kind: 'truncate', afterBytes: 100_000 }), transient: 'ok', persistent: /connection|closed|truncated|socket|bytes/i },
  { name: 'stall mid-body', fault: (op) => (op === 'push' ? undefined : { kind: 'stall', afterBytes: 100_000 }), transient: 'ok', persistent: /no data for .* \(timed out\)|timed out/ },
  { name: 'wrong bytes', fault: (op) => (op === 'push' ? undefined : { kind: 'wrong-bytes', at: 1000 }), transient: /corrupt or altered/, persistent: /corrupt or altered/ },
];

for (const c of CASES) {
  describe(`fault: ${c.name}`, () => {
    for (const op of ['pull', 'copy', 'push'] as Op[]) {
      for (const mode of ['transient', 'persistent'] as const) {
        const fault = c.fault(op);
        const want = c[mode];
        if (!fault || want === 'skip') continue;
        test(`[slow] ${op}, ${mode} ${c.name}: ${want === 'ok' ? 'succeeds' : 'fails naming host and digest'}`, async () => {
          proxy.clear();
          const rule = proxy.add({ method: op === 'push' ? undefined : 'GET', path: op === 'push' ? uploadPath : blobPath(big), fault, times: mode === 'transient' ? 2 : undefined });
          const started = Date.now();
          const err = await runOp(op).then(
            () => undefined,
            (e: Error) => e,
          );
          const took = Date.now() - started;
          proxy.clear();
          expect(rule.fired()).toBeGreaterThan(0);
          if (want === 'ok') {
            if (err) throw err;
            results.push({ op, fault: c.name, mode, outcome: `ok (${rule.fired()} faults, ${took}ms)` });
            return;
          }
          expect(err).toBeDefined();
          const msg = err!.message;
          expect(msg).not.toContain('\n');
          expect(msg).toMatch(want);
          expect(msg).toContain(op === 'push' ? proxy.host : proxy.host);
          expect(msg).toMatch(/sha256:[a-f0-9]{64}/);
          expect(took).toBeLessThan(GIVE_UP_WITHIN_MS);
          results.push({ op, fault: c.name, mode, outcome: `failed in ${took}ms` });
        }, 30_000);
      }
    }
  });
}

describe('the CLI with its default retry policy', () => {
  test('[slow] edgebuild pull rides out a 503, a 429 and a reset; a persistent 500 fails in one line naming host and digest and stores nothing', async () => {
    proxy.clear();
    proxy.add({ method: 'GET', path: blobPath(big), fault: { kind: 'status', status: 503 }, times: 1 });
    proxy.add({ method: 'GET', path: blobPath(big), fault: { kind: 'status', status: 429, retryAfter: '1' }, times: 1 });
    proxy.add({ method: 'GET', path: blobPath(big), fault: { kind: 'reset', afterBytes: 50_000 }, times: 1 });
    const root = tempDir('eb-fault-cli-');
    const ok = await edgebuild(['--root', root, 'pull', `${proxy.host}/src/app:1`]);
    if (ok.code !== 0) throw new Error(ok.err);
    expect(proxy.requests.filter((q) => q.fault).map((q) => q.fault)).toEqual(['status', 'status', 'reset']);
    assertOnlyVerified(join(root, 'content', 'blobs', 'sha256'), join(root, 'content', 'ingest'));

    proxy.clear();
    proxy.add({ method: 'GET', path: blobPath(big), fault: { kind: 'status', status: 500 } });
    const root2 = tempDir('eb-fault-cli-');
    const started = Date.now();
    const bad = await edgebuild(['--root', root2, 'pull', `${proxy.host}/src/app:1`]);
    proxy.clear();
    expect(bad.code).not.toBe(0);
    // Progress lines come first on stderr; the error is the last line, whole.
    const line = bad.err.trim().split('\n').at(-1)!;
    expect(line).toStartWith(`edgebuild: pull ${proxy.host}/src/app:1: `);
    expect(line).toContain(`blob ${big} in ${proxy.host}/src/app: 500 internal server error`);
    expect(line).toContain(`at ${proxy.host}`);
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(storedBlobs(root2)).toEqual([]);
  }, 60_000);
});

describe('manifest faults', () => {
  test('[slow] a manifest GET answered 503 then right is ridden out; wrong manifest bytes fail naming the host and store nothing', async () => {
    proxy.clear();
    const manifests = /\/manifests\//;
    const flaky = proxy.add({ method: 'GET', path: manifests, fault: { kind: 'status', status: 503 }, times: 1 });
    await runOp('pull');
    expect(flaky.fired()).toBe(1);
    proxy.clear();
    proxy.add({ method: 'GET', path: manifests, fault: { kind: 'wrong-bytes', at: 40 } });
    const root = tempDir('eb-fault-manifest-');
    const err = await pullImage(parseReference(`${proxy.host}/src/app:1`), { client: new RegistryClient({ retry: RETRY }), store: new ContentStore(root), images: new ImageStore(root) }).then(
      () => undefined,
      (e: Error) => e,
    );
    proxy.clear();
    // The Docker-Content-Digest header and the bytes disagree: refused before anything is stored.
    expect(err?.message).toBe(`pull ${proxy.host}/src/app:1: registry says digest ${img.top.digest} but content is ${err?.message.match(/content is (sha256:[a-f0-9]{64})/)?.[1]} at ${proxy.host}`);
    expect(existsSync(join(root, 'content', 'blobs', 'sha256')) ? readdirSync(join(root, 'content', 'blobs', 'sha256')) : []).toEqual([]);
  }, 30_000);
});
