// Access record files as ctr-remote writes them (`optimize --record-out`, read by
// `convert --estargz-record-in`): one JSON object per line, {"path", "manifestDigest", "layerIndex"},
// path cleaned (no leading slash), layerIndex the top-most layer holding the file.
import * as v from 'valibot';
import { readFileSync } from 'node:fs';

const EntrySchema = v.object({
  path: v.pipe(v.string(), v.minLength(1)),
  manifestDigest: v.optional(v.string()),
  layerIndex: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0))),
});
export type RecordEntry = v.InferOutput<typeof EntrySchema>;

export class RecordFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RecordFileError';
  }
}

/** Parses a record file (JSON lines; a JSON array of the same objects is accepted too). */
export function parseRecord(text: string, where: string): RecordEntry[] {
  const trimmed = text.trim();
  const items: { value: unknown; line: number }[] = [];
  if (trimmed.startsWith('[')) {
    let arr: unknown;
    try {
      arr = JSON.parse(trimmed);
    } catch (e) {
      throw new RecordFileError(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (!Array.isArray(arr)) throw new RecordFileError(`${where}: expected JSON objects, one per line`);
    arr.forEach((value, i) => items.push({ value, line: i + 1 }));
  } else {
    text.split('\n').forEach((l, i) => {
      if (!l.trim()) return;
      let value: unknown;
      try {
        value = JSON.parse(l);
      } catch {
        throw new RecordFileError(`${where}:${i + 1}: invalid JSON`);
      }
      items.push({ value, line: i + 1 });
    });
  }
  return items.map(({ value, line }) => {
    const r = v.safeParse(EntrySchema, value);
    if (!r.success) throw new RecordFileError(`${where}:${line}: ${r.issues[0].message} at ${v.getDotPath(r.issues[0]) ?? 'entry'} (expected {"path": "...", "layerIndex": N})`);
    return { ...r.output, path: cleanRecordPath(r.output.path) };
  });
}

export function readRecordFile(path: string): RecordEntry[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RecordFileError(`${path}: cannot read record file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return parseRecord(text, path);
}

/** Paths in first-seen order, without repeats (ctr-remote applies them to every layer). */
export function recordPaths(entries: RecordEntry[]): string[] {
  return [...new Set(entries.map((e) => e.path))];
}

/** Paths per layer index for one manifest (entries of other manifests are ignored). */
export function recordPathsByLayer(entries: RecordEntry[], manifestDigest: string): Map<number, string[]> {
  const out = new Map<number, string[]>();
  for (const e of entries) {
    if (e.layerIndex === undefined || (e.manifestDigest !== undefined && e.manifestDigest !== manifestDigest)) continue;
    const list = out.get(e.layerIndex) ?? [];
    if (!list.includes(e.path)) list.push(e.path);
    out.set(e.layerIndex, list);
  }
  return out;
}

export function formatRecord(entries: RecordEntry[]): string {
  return entries.map((e) => JSON.stringify({ path: e.path, ...(e.manifestDigest ? { manifestDigest: e.manifestDigest } : {}), ...(e.layerIndex !== undefined ? { layerIndex: e.layerIndex } : {}) }) + '\n').join('');
}

function cleanRecordPath(p: string): string {
  const parts: string[] = [];
  for (const s of p.split('/')) {
    if (!s || s === '.') continue;
    if (s === '..') parts.pop();
    else parts.push(s);
  }
  return parts.join('/');
}
