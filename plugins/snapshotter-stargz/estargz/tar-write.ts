// The few tar headers the writer makes itself (landmarks and the TOC entry): plain ustar regular
// files with short ASCII names, mode 0, owner 0 and no mtime — the same fields the reference sets.
import { BLOCK } from "./tar-read.ts";

function putOctal(h: Uint8Array, at: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, "0");
  if (s.length > width - 1) throw new RangeError(`tar field value ${value} does not fit ${width - 1} octal digits`);
  h.set(new TextEncoder().encode(s), at);
  h[at + width - 1] = 0;
}

/** A ustar header for a regular file `name` of `size` bytes. */
export function regularFileHeader(name: string, size: number): Uint8Array {
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length > 100) throw new RangeError(`tar name too long: ${name}`);
  const h = new Uint8Array(BLOCK);
  h.set(nameBytes, 0);
  putOctal(h, 100, 8, 0); // mode
  putOctal(h, 108, 8, 0); // uid
  putOctal(h, 116, 8, 0); // gid
  putOctal(h, 124, 12, size);
  putOctal(h, 136, 12, 0); // mtime
  h[156] = 0x30; // '0' regular file
  h.set(new TextEncoder().encode("ustar\u000000"), 257);
  putOctal(h, 329, 8, 0); // devmajor
  putOctal(h, 337, 8, 0); // devminor
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  putOctal(h, 148, 7, sum);
  h[155] = 0x20;
  return h;
}

/** Zero bytes that pad `size` bytes of entry data to a whole block. */
export function padding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The end-of-archive marker: two zero blocks. */
export const END_OF_ARCHIVE = new Uint8Array(2 * BLOCK);
