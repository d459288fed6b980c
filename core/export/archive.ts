// A set of files (OCI layout, docker-archive) written either as a tar stream or into a directory.
// Blobs are checked against their digest and size while they are copied: a wrong byte fails the
// export instead of producing an archive that other tools reject later.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';

export interface ArchiveFile {
  /** Relative path with "/" separators, e.g. "blobs/sha256/<hex>". */
  path: string;
  size: number;
  /** When set, the bytes must hash to it. */
  digest?: string;
  open(): Promise<ReadableStream<Uint8Array>>;
}

export function bytesFile(path: string, bytes: Uint8Array): ArchiveFile {
  return { path, size: bytes.length, open: async () => new Response(bytes).body as ReadableStream<Uint8Array> };
}

class Verifier extends Transform {
  private readonly hash = createHash('sha256');
  private seen = 0;
  constructor(private readonly file: ArchiveFile) {
    super();
  }
  override _transform(chunk: Buffer, _e: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.file.size) return done(new Error(`${this.file.path}: more than the expected ${this.file.size} bytes`));
    if (this.file.digest) this.hash.update(chunk);
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    if (this.seen !== this.file.size) return done(new Error(`${this.file.path}: got ${this.seen} bytes, expected ${this.file.size}`));
    const got = `sha256:${this.hash.digest('hex')}`;
    if (this.file.digest && got !== this.file.digest) return done(new Error(`${this.file.path}: content hashes to ${got}, expected ${this.file.digest}`));
    done();
  }
}

const nodeStream = (s: ReadableStream<Uint8Array>) => Readable.fromWeb(s as import('node:stream/web').ReadableStream<Uint8Array>);

/** Parent directories of every file, each once, parents first (tar readers like them listed). */
function directoriesOf(files: ArchiveFile[]): string[] {
  const dirs = new Set<string>();
  for (const f of files) {
    const parts = f.path.split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  return [...dirs];
}

/** Writes `files` as a tar to `out` (not ended by failure: the caller removes its temp file). */
export async function writeArchiveTar(files: ArchiveFile[], out: Writable, mtime: Date): Promise<void> {
  const pack = tar.pack();
  const done = pipeline(pack, out);
  try {
    for (const d of directoriesOf(files)) {
      await new Promise<void>((res, rej) => pack.entry({ name: `${d}/`, type: 'directory', mode: 0o755, mtime }, (e) => (e ? rej(e) : res())));
    }
    for (const f of files) {
      const entry = pack.entry({ name: f.path, type: 'file', mode: 0o644, size: f.size, mtime });
      await pipeline(nodeStream(await f.open()), new Verifier(f), entry);
    }
    pack.finalize();
  } catch (e) {
    pack.destroy(e as Error);
    await done.catch(() => {});
    throw e;
  }
  await done;
}

/** Writes `files` under `dir` (which must be empty or missing). */
export async function writeArchiveDir(files: ArchiveFile[], dir: string): Promise<void> {
  for (const f of files) {
    const target = join(dir, ...f.path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await pipeline(nodeStream(await f.open()), new Verifier(f), createWriteStream(target, { mode: 0o644 }));
  }
}
