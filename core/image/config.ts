// Parses an image config blob with its schema; errors name the digest.
import * as v from 'valibot';
import { ImageConfigSchema, type ImageConfig } from './schemas.ts';
import { ImageFormatError } from './manifest.ts';

export function parseImageConfig(bytes: Uint8Array, digest: string): ImageConfig {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new ImageFormatError(`config ${digest}: not valid JSON`);
  }
  const r = v.safeParse(ImageConfigSchema, json);
  if (!r.success) {
    const i = r.issues[0];
    const path = (i.path ?? []).map((p) => String(p.key)).join('.');
    throw new ImageFormatError(`config ${digest}: ${path ? path + ': ' : ''}${i.message}`);
  }
  return r.output;
}
