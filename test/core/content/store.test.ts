import { afterAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';
import { readdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { ContentStore } from '../../../core/content/store.ts';
import { ImageStore } from '../../../core/content/images.ts';
import { digestOf } from '../../../core/content/digest.ts';

afterAll(removeTempDirs);

const root = () => tempDir('eb-store-');
const bytes = (s: string) => new TextEncoder().encode(s);

function chunked(data: Uint8Array, size: number, failAt?: number): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < data.length; i += size) {
      if (failAt !== undefined && i >= failAt) throw Object.assign(new Error('socket closed'), { code: 'ECONNRESET' });
      await Bun.sleep(1);
      yield data.subarray(i, i + size);
    }
  })();
}

describe('content store', () => {
  test('ingest verifies and stores; info, read, walk, usage, delete', async () => {
    const s = new ContentStore(root());
    const data = bytes('hello world');
    const d = digestOf(data);
    expect(await s.ingest({ digest: d, size: data.length }, async () => chunked(data, 3))).toBe(true);
    expect(await s.ingest({ digest: d, size: data.length }, async () => chunked(data, 3))).toBe(false);
    expect(new TextDecoder().decode(await s.read(d))).toBe('hello world');
    expect((await s.info(d))?.size).toBe(11);
    const all = [];
    for await (const b of s.walk()) all.push(b.digest);
    expect(all).toEqual([d]);
    expect(await s.usage()).toEqual({ blobs: 1, bytes: 11 });
    expect(await s.delete(d)).toBe(true);
    expect(await s.has(d)).toBe(false);
  });

  test('a digest mismatch stores nothing and names both digests', async () => {
    const s = new ContentStore(root());
    const want = digestOf(bytes('good'));
    const err = await s.ingest({ digest: want, size: 3 }, async () => [bytes('bad')]).catch((e) => e);
    expect(err.message).toBe(`blob ${want}: content has digest ${digestOf(bytes('bad'))} (corrupt or altered)`);
    expect(await s.has(want)).toBe(false);
    expect(readdirSync(s.ingestDir)).toEqual([]);
  });

  test('truncated and oversized data are refused', async () => {
    const s = new ContentStore(root());
    const data = bytes('0123456789');
    const d = digestOf(data);
    await expect(s.ingest({ digest: d, size: 10 }, async () => [data.subarray(0, 6)])).rejects.toThrow(`blob ${d}: got 6 bytes, expected 10 (truncated)`);
    await expect(s.ingest({ digest: d, size: 5 }, async () => [data])).rejects.toThrow(/more data than its size 5/);
    expect(await s.has(d)).toBe(false);
  });

  test('concurrent ingests of one digest share one download', async () => {
    const s = new ContentStore(root());
    const data = bytes('x'.repeat(5000));
    const d = digestOf(data);
    let opens = 0;
    const open = async () => (opens++, chunked(data, 100));
    const results = await Promise.all([1, 2, 3].map(() => s.ingest({ digest: d, size: data.length }, open)));
    expect(opens).toBe(1);
    expect(results).toEqual([true, true, true]);
  });

  test('a broken stream resumes from the bytes already written', async () => {
    const s = new ContentStore(root());
    const data = bytes('abcdefghijklmnopqrstuvwxyz');
    const d = digestOf(data);
    const offsets: number[] = [];
    await s.ingest({ digest: d, size: data.length }, async (offset) => {
      offsets.push(offset);
      return offsets.length === 1 ? chunked(data, 4, 8) : chunked(data.subarray(offset), 4);
    });
    expect(offsets).toEqual([0, 8]);
    expect(new TextDecoder().decode(await s.read(d))).toBe('abcdefghijklmnopqrstuvwxyz');
  });

  const collect = async (it: AsyncIterable<Uint8Array>) => {
    const parts: Uint8Array[] = [];
    for await (const c of it) parts.push(c);
    return Buffer.concat(parts).toString();
  };

  test('follow hands out the bytes while they come in and ends once the blob is stored', async () => {
    const s = new ContentStore(root());
    const data = bytes('y'.repeat(3000));
    const d = digestOf(data);
    let stored: boolean | undefined;
    const seen: number[] = [];
    const it = s.follow({ digest: d, size: data.length }, async () => chunked(data, 500));
    let text = '';
    for await (const c of it) {
      // Before the end the blob is not in the store: nothing unverified is visible.
      stored ??= await s.has(d);
      seen.push(c.length);
      text += Buffer.from(c).toString();
    }
    expect(stored).toBe(false);
    expect(text).toBe(Buffer.from(data).toString());
    expect(seen.length).toBeGreaterThan(1);
    expect(await s.has(d)).toBe(true);
    expect(readdirSync(s.ingestDir)).toEqual([]);
    // A stored blob is read from the store, without opening anything.
    expect(await collect(s.follow({ digest: d, size: data.length }, async () => { throw new Error('must not open'); }))).toBe(text);
  });

  test('follow fails at the end of a corrupt or truncated blob and stores nothing', async () => {
    const s = new ContentStore(root());
    const want = digestOf(bytes('good data'));
    const got: string[] = [];
    const err = await (async () => {
      for await (const c of s.follow({ digest: want, size: 8 }, async () => chunked(bytes('bad data'), 3))) got.push(Buffer.from(c).toString());
    })().catch((e) => e);
    expect(got.join('')).toBe('bad data');
    expect(err.message).toBe(`blob ${want}: content has digest ${digestOf(bytes('bad data'))} (corrupt or altered)`);
    const short = await collect(s.follow({ digest: want, size: 9 }, async () => [bytes('good')])).catch((e) => e);
    expect(short.message).toBe(`blob ${want}: got 4 bytes, expected 9 (truncated)`);
    expect(await s.has(want)).toBe(false);
    expect(readdirSync(s.ingestDir)).toEqual([]);
  });

  test('follow joins a running download (one open), also after a resumed break', async () => {
    const s = new ContentStore(root());
    const data = bytes('0123456789'.repeat(400));
    const d = digestOf(data);
    const offsets: number[] = [];
    const open = async (offset: number) => (offsets.push(offset), offsets.length === 1 ? chunked(data, 256, 1024) : chunked(data.subarray(offset), 256));
    const ingest = s.ingest({ digest: d, size: data.length }, open);
    const [a, b, made] = await Promise.all([collect(s.follow({ digest: d, size: data.length }, open)), collect(s.follow({ digest: d, size: data.length }, open)), ingest]);
    expect(offsets).toEqual([0, 1024]);
    expect(a).toBe(Buffer.from(data).toString());
    expect(b).toBe(a);
    expect(made).toBe(true);
  });

  test('a follower that stops early leaves the download to finish', async () => {
    const s = new ContentStore(root());
    const data = bytes('z'.repeat(4000));
    const d = digestOf(data);
    for await (const _ of s.follow({ digest: d, size: data.length }, async () => chunked(data, 100))) break;
    expect(await s.ingest({ digest: d, size: data.length }, async () => { throw new Error('must join, not reopen'); })).toBe(true);
    expect(await s.has(d)).toBe(true);
  });

  test('stale ingest files of dead processes are removed at open; live ones kept', () => {
    const r = root();
    const s = new ContentStore(r);
    writeFileSync(join(s.ingestDir, `${'a'.repeat(64)}.999999999.dead`), 'partial');
    writeFileSync(join(s.ingestDir, `${'b'.repeat(64)}.${process.ppid}.live`), 'partial');
    writeFileSync(join(s.ingestDir, 'junk'), 'x');
    new ContentStore(r);
    expect(readdirSync(s.ingestDir)).toEqual([`${'b'.repeat(64)}.${process.ppid}.live`]);
    expect(existsSync(join(s.blobDir, 'a'.repeat(64)))).toBe(false);
  });

  test('rejects non-sha256 digests with a clear error', async () => {
    const s = new ContentStore(root());
    await expect(s.ingest({ digest: 'sha512:' + 'a'.repeat(128) }, async () => [])).rejects.toThrow('unsupported digest algorithm sha512');
    expect(() => s.path('sha256:xyz')).toThrow('invalid digest "sha256:xyz"');
  });
});

describe('image store', () => {
  test('put/get/list/delete, one file per ref', async () => {
    const r = root();
    const images = new ImageStore(r);
    const rec = {
      ref: '127.0.0.1:5000/a/b:1',
      manifest: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: 'sha256:' + 'a'.repeat(64), size: 3 },
      platform: { os: 'linux', architecture: 'amd64' },
      updated: new Date(0).toISOString(),
    };
    await images.put(rec);
    expect(await images.get(rec.ref)).toEqual(rec);
    expect((await images.list()).map((x) => x.ref)).toEqual([rec.ref]);
    expect(readdirSync(images.dir)).toEqual([`${encodeURIComponent(rec.ref)}.json`]);
    expect(await images.delete(rec.ref)).toBe(true);
    expect(await images.get(rec.ref)).toBeUndefined();
  });
});
