// Searches output text and whole directory trees (gzip and zstd blobs decompressed too) for
// secret values, so tests can prove a secret went nowhere.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';

/** The forms a credential can leak in: as is, and base64 of user:password (Basic auth). */
export function secretForms(values: string[], basic?: { user: string; password: string }): string[] {
  const out = [...values];
  if (basic) out.push(Buffer.from(`${basic.user}:${basic.password}`).toString('base64'));
  return out;
}

function contents(bytes: Buffer): Buffer[] {
  const out = [bytes];
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) {
    try {
      out.push(gunzipSync(bytes));
    } catch {
      // not a whole gzip stream
    }
  }
  if (bytes.length >= 4 && bytes.readUInt32LE(0) === 0xfd2fb528 && typeof Bun.zstdDecompressSync === 'function') {
    try {
      out.push(Buffer.from(Bun.zstdDecompressSync(bytes)));
    } catch {
      // not a whole zstd frame
    }
  }
  return out;
}

/** "path: needle" for every file under `dir` that holds one of `needles`. */
export function findInTree(dir: string, needles: string[]): string[] {
  const hits: string[] = [];
  const visit = (p: string) => {
    let st;
    try {
      st = lstatSync(p);
    } catch {
      return;
    }
    if (st.isDirectory()) for (const c of readdirSync(p)) visit(join(p, c));
    else if (st.isFile() && st.size < 512 * 1024 * 1024) {
      for (const b of contents(readFileSync(p))) for (const n of needles) if (b.includes(n)) hits.push(`${p}: ${n}`);
    }
  };
  visit(dir);
  return hits;
}

export function findInText(label: string, text: string, needles: string[]): string[] {
  return needles.filter((n) => text.includes(n)).map((n) => `${label}: ${n}`);
}
