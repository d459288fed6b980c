// `--export-cache` / `--import-cache` values (buildctl's syntax): type=registry,ref=…,mode=min|max,
// compression=…; type=local,dest=…|src=…; type=inline.
import { parseReference } from '../registry/reference.ts';

export type CacheExportSpec =
  | { type: 'registry'; ref: string; mode: 'min' | 'max'; compression: string }
  | { type: 'local'; dest: string; mode: 'min' | 'max'; compression: string }
  | { type: 'inline' };

export type CacheImportSpec = { type: 'registry'; ref: string } | { type: 'local'; src: string };

const KNOWN_EXPORT: Record<string, string[]> = { registry: ['ref', 'mode', 'compression'], local: ['dest', 'mode', 'compression'], inline: [] };
const KNOWN_IMPORT: Record<string, string[]> = { registry: ['ref'], local: ['src'] };

function split(text: string, flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`${flag} ${text}: expected key=value, got ${JSON.stringify(part)}`);
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}

function checkKeys(kv: Record<string, string>, known: Record<string, string[]>, flag: string, text: string): string {
  const type = kv.type;
  if (!type || !known[type]) throw new Error(`${flag} ${text}: type must be one of ${Object.keys(known).join(', ')}`);
  const unknown = Object.keys(kv).filter((k) => k !== 'type' && !known[type].includes(k));
  if (unknown.length) throw new Error(`${flag} ${text}: unknown attribute ${unknown.join(', ')} for type=${type}`);
  return type;
}

export function parseCacheExport(text: string): CacheExportSpec {
  const kv = split(text, '--export-cache');
  const type = checkKeys(kv, KNOWN_EXPORT, '--export-cache', text);
  if (type === 'inline') return { type };
  const mode = kv.mode ?? 'min';
  if (mode !== 'min' && mode !== 'max') throw new Error(`--export-cache ${text}: mode must be min or max`);
  const compression = kv.compression ?? 'gzip';
  if (type === 'registry') {
    if (!kv.ref) throw new Error(`--export-cache ${text}: type=registry needs ref=`);
    parseReference(kv.ref);
    return { type, ref: kv.ref, mode, compression };
  }
  if (!kv.dest) throw new Error(`--export-cache ${text}: type=local needs dest=`);
  return { type: 'local', dest: kv.dest, mode, compression };
}

export function parseCacheImport(text: string): CacheImportSpec {
  const kv = split(text, '--import-cache');
  const type = checkKeys(kv, KNOWN_IMPORT, '--import-cache', text);
  if (type === 'registry') {
    if (!kv.ref) throw new Error(`--import-cache ${text}: type=registry needs ref=`);
    parseReference(kv.ref);
    return { type, ref: kv.ref };
  }
  if (!kv.src) throw new Error(`--import-cache ${text}: type=local needs src=`);
  return { type: 'local', src: kv.src };
}
