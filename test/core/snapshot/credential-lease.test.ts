// Credential leases between a daemon and a proxy snapshotter: the daemon answers with the
// credentials of the build that made the call, only while the call runs; the proxy strips the
// lease labels (never stored) and refuses callback sockets of other users.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREDENTIAL_LEASE_LABEL, CREDENTIAL_SOCKET_LABEL, startCredentialBroker, takeCredentialLease, type CredentialBroker } from '../../../core/snapshot/credential-lease.ts';
import { sessionCredentials, withSessionCredentials } from '../../../core/daemon/session-auth.ts';
import { staticCredentials, type Credential } from '../../../core/registry/credentials.ts';
import { serveSnapshotter } from '../../../core/snapshot/proxy-server.ts';
import { ProxySnapshotter } from '../../../core/snapshot/proxy-client.ts';
import type { GrpcServer } from '../../../core/grpc/server.ts';
import type { Mount, RemoteLayer, RemotePrepareResult, RemoteSnapshotter, SnapshotInfo } from '../../../core/snapshot/types.ts';

let dir: string;
let broker: CredentialBroker;
const alice: Credential = { username: 'alice', password: 's3cret' };
const daemonOwn: Credential = { username: 'daemon', password: 'own' };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'eb-lease-'));
  // As in the daemon: the session's credentials first, then the daemon's own auth plugins.
  broker = startCredentialBroker(join(dir, 'cred.sock'), () => [sessionCredentials, staticCredentials({ 'other.example': daemonOwn })]);
});

afterAll(() => {
  broker?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('credential leases', () => {
  test('a lease answers with its build\'s credentials until released, then is refused', async () => {
    const lease = await withSessionCredentials({ 'reg.example': alice }, async () => {
      await Bun.sleep(1);
      return broker.lease();
    });
    const { labels, source } = takeCredentialLease({ a: 'b', ...lease.labels });
    expect(labels).toEqual({ a: 'b' });
    // Asked from outside the build's async context, as the HTTP handler is.
    expect(await source!.get('reg.example')).toEqual(alice);
    expect(await source!.get('other.example')).toEqual(daemonOwn);
    expect(await source!.get('nobody.example')).toBeUndefined();
    lease.release();
    expect(broker.open()).toBe(0);
    await expect(source!.get('reg.example')).rejects.toThrow(`credentials for reg.example from ${join(dir, 'cred.sock')}: HTTP 403: credential lease is unknown or expired`);
  });

  test('one build\'s lease never answers with another build\'s credentials', async () => {
    const [a, b] = await Promise.all([
      withSessionCredentials({ 'reg.example': alice }, async () => broker.lease()),
      withSessionCredentials({}, async () => broker.lease()),
    ]);
    expect(await takeCredentialLease(b.labels).source!.get('reg.example')).toBeUndefined();
    expect(await takeCredentialLease(a.labels).source!.get('reg.example')).toEqual(alice);
    a.release();
    b.release();
  });

  test('malformed lease labels and foreign sockets are refused with one line naming the label', () => {
    const sock = join(dir, 'cred.sock');
    expect(takeCredentialLease({ x: '1' })).toEqual({ labels: { x: '1' } });
    expect(() => takeCredentialLease({ [CREDENTIAL_LEASE_LABEL]: 'abc', [CREDENTIAL_SOCKET_LABEL]: sock })).toThrow(`label ${CREDENTIAL_LEASE_LABEL}: is not 64 hex digits`);
    expect(() => takeCredentialLease({ [CREDENTIAL_LEASE_LABEL]: 'a'.repeat(64) })).toThrow(`label ${CREDENTIAL_SOCKET_LABEL}: missing`);
    expect(() => takeCredentialLease({ [CREDENTIAL_LEASE_LABEL]: 'a'.repeat(64), [CREDENTIAL_SOCKET_LABEL]: 'rel/path' })).toThrow('is not an absolute path');
    writeFileSync(join(dir, 'plain'), '');
    expect(() => takeCredentialLease({ [CREDENTIAL_LEASE_LABEL]: 'a'.repeat(64), [CREDENTIAL_SOCKET_LABEL]: join(dir, 'plain') })).toThrow('is not a socket');
    expect(() => takeCredentialLease({ [CREDENTIAL_LEASE_LABEL]: 'a'.repeat(64), [CREDENTIAL_SOCKET_LABEL]: join(dir, 'gone') })).toThrow('ENOENT');
    if (process.getuid?.() === 0) {
      const other = startCredentialBroker(join(dir, 'other.sock'), () => []);
      try {
        chownSync(other.socketPath, 65534, 65534);
        expect(() => takeCredentialLease({ ...other.lease().labels })).toThrow('is owned by uid 65534, neither root nor this process\'s user');
      } finally {
        other.close();
      }
    }
  });
});

/** A remote snapshotter that records what credential its auth source gave while mounting. */
class RecordingRemote implements RemoteSnapshotter {
  seen: (Credential | undefined)[] = [];
  labels = new Map<string, Record<string, string>>();
  async prepareRemote(key: string, _parent: string | undefined, layer: RemoteLayer): Promise<RemotePrepareResult> {
    this.seen.push(await sessionCredentials.get(layer.registry));
    this.labels.set(key, {});
    return { lazy: true };
  }
  remoteStatus() {
    return [];
  }
  async prepare(key: string, _parent?: string, opts?: { labels?: Record<string, string> }): Promise<Mount[]> {
    this.labels.set(key, opts?.labels ?? {});
    return [];
  }
  view = this.prepare;
  async mounts(): Promise<Mount[]> {
    return [];
  }
  async commit(): Promise<void> {}
  async remove(key: string): Promise<void> {
    this.labels.delete(key);
  }
  async stat(key: string): Promise<SnapshotInfo | undefined> {
    const labels = this.labels.get(key);
    return labels && { key, kind: key.startsWith('layer') ? 'committed' : 'active', labels, created: new Date().toISOString() };
  }
  async usage() {
    return { size: 0, inodes: 0 };
  }
  async walk(fn: (i: SnapshotInfo) => void | Promise<void>): Promise<void> {
    for (const k of this.labels.keys()) await fn((await this.stat(k))!);
  }
  async close(): Promise<void> {}
}

describe('proxy snapshotter calls carry a lease', () => {
  let server: GrpcServer;
  let remote: RecordingRemote;
  let client: ProxySnapshotter;
  beforeAll(async () => {
    remote = new RecordingRemote();
    server = await serveSnapshotter(remote, join(dir, 'sn.sock'), { name: 'snapshotter.test' });
    client = new ProxySnapshotter(server.socketPath, { credentials: broker });
  });
  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  test('the server mounts with the calling build\'s credential; lease labels are never stored', async () => {
    const layer: RemoteLayer = {
      imageRef: 'reg.example/base:v1',
      registry: 'reg.example',
      repository: 'base',
      descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${'1'.repeat(64)}`, size: 10, annotations: { 'containerd.io/snapshot/stargz/toc.digest': `sha256:${'2'.repeat(64)}` } },
    };
    const r = await withSessionCredentials({ 'reg.example': alice }, () => client.prepareRemote('layer-1', undefined, layer));
    expect(r).toEqual({ lazy: true });
    const r2 = await withSessionCredentials({}, () => client.prepareRemote('layer-2', undefined, layer));
    expect(r2).toEqual({ lazy: true });
    expect(remote.seen).toEqual([alice, undefined]);
    await withSessionCredentials({ 'reg.example': alice }, () => client.prepare('work', 'layer-1', { labels: { purpose: 'x' } }));
    expect(remote.labels.get('work')).toEqual({ purpose: 'x' });
    const stored = [(await client.stat('work'))!.labels, (await client.stat('layer-1'))!.labels];
    for (const l of stored) expect(Object.keys(l).filter((k) => k.includes('credential'))).toEqual([]);
    expect(broker.open()).toBe(0);
  });
});
