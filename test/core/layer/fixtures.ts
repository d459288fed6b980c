// Small helpers for layer tests: build a tar from entry descriptions, read one back to a list.
import { encodeHeader, END_OF_ARCHIVE } from '../../../core/layer/tar-writer.ts';
import { padding, type TarEntry } from '../../../core/layer/tar-header.ts';
import { readTar } from '../../../core/layer/tar-reader.ts';
import { createHash } from 'node:crypto';

export type EntrySpec = Partial<TarEntry> & { name: string; data?: string | Uint8Array };

export function makeTar(specs: EntrySpec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of specs) {
    const data = typeof s.data === 'string' ? new TextEncoder().encode(s.data) : (s.data ?? new Uint8Array(0));
    const type = s.type ?? 'file';
    const e: TarEntry = {
      type,
      mode: type === 'dir' ? 0o755 : 0o644,
      uid: 0,
      gid: 0,
      mtime: 1_600_000_000,
      linkname: '',
      devmajor: 0,
      devminor: 0,
      xattrs: {},
      ...s,
      size: type === 'file' ? data.length : 0,
    };
    parts.push(encodeHeader(e));
    if (type === 'file' && data.length) parts.push(data, new Uint8Array(padding(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** A stream of `bytes` in small uneven chunks, to exercise the reader's buffering. */
export function chunked(bytes: Uint8Array, size = 777): ReadableStream<Uint8Array> {
  let off = 0;
  return new ReadableStream({
    pull(c) {
      if (off >= bytes.length) return c.close();
      c.enqueue(bytes.slice(off, off + size));
      off += size;
    },
  });
}

export interface ReadEntry extends Omit<TarEntry, 'xattrs'> {
  xattrs: Record<string, string>;
  sha?: string;
}

export async function listTar(source: ReadableStream<Uint8Array> | Uint8Array): Promise<ReadEntry[]> {
  const out: ReadEntry[] = [];
  await readTar(source instanceof Uint8Array ? chunked(source) : source, async (e, body) => {
    const h = createHash('sha256');
    for await (const ch of body) h.update(ch);
    out.push({
      ...e,
      xattrs: Object.fromEntries(Object.entries(e.xattrs).map(([k, v]) => [k, Buffer.from(v).toString('hex')])),
      sha: e.type === 'file' ? h.digest('hex').slice(0, 16) : undefined,
    });
  });
  return out;
}

export const sha256 = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
