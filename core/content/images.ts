// Image metadata: one JSON file per reference under <root>/images/, written atomically, saying
// which manifest the reference points at (and the index it came from, with the chosen platform).
import * as v from 'valibot';
import { mkdirSync, writeFileSync, renameSync, fsyncSync, openSync, closeSync, rmSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DescriptorSchema } from '../image/schemas.ts';

export const ImageRecordSchema = v.object({
  /** Normalised reference, e.g. "docker.io/library/alpine:3.20". */
  ref: v.string(),
  /** The platform manifest this reference resolves to here. */
  manifest: DescriptorSchema,
  /** The index the manifest was chosen from, when the reference named an index. */
  index: v.optional(DescriptorSchema),
  platform: v.object({ os: v.string(), architecture: v.string(), variant: v.optional(v.string()) }),
  updated: v.string(),
});
export type ImageRecord = v.InferOutput<typeof ImageRecordSchema>;

export class ImageStore {
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, 'images');
    mkdirSync(this.dir, { recursive: true });
  }

  private file(ref: string): string {
    return join(this.dir, `${encodeURIComponent(ref)}.json`);
  }

  async get(ref: string): Promise<ImageRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(ref), 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
    const r = v.safeParse(ImageRecordSchema, JSON.parse(text));
    if (!r.success) throw new Error(`image record ${this.file(ref)}: ${r.issues[0].message}`);
    return r.output;
  }

  /** Write to a temp file, fsync, rename: readers see the old record or the new one. */
  async put(record: ImageRecord): Promise<void> {
    const final = this.file(record.ref);
    const tmp = join(this.dir, `.${randomBytes(6).toString('hex')}.tmp`);
    writeFileSync(tmp, JSON.stringify(record, null, 2) + '\n');
    const fd = openSync(tmp, 'r');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, final);
  }

  async delete(ref: string): Promise<boolean> {
    const existed = (await this.get(ref)) !== undefined;
    rmSync(this.file(ref), { force: true });
    return existed;
  }

  async list(): Promise<ImageRecord[]> {
    const out: ImageRecord[] = [];
    for (const name of (await readdir(this.dir)).sort()) {
      if (!name.endsWith('.json') || name.startsWith('.')) continue;
      const rec = await this.get(decodeURIComponent(name.slice(0, -5)));
      if (rec) out.push(rec);
    }
    return out;
  }
}
