// Splits a multipart/byteranges body (RFC 7233 §4.1) into its parts. Each part's length comes from
// its Content-Range, so binary bodies that happen to contain the boundary are handled.

export interface RangePart {
  start: number;
  bytes: Uint8Array;
}

const CRLF2 = new Uint8Array([13, 10, 13, 10]);

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

export function boundaryOf(contentType: string): string | undefined {
  const m = contentType.match(/boundary=(?:"([^"]+)"|([^;\s]+))/i);
  return m ? (m[1] ?? m[2]) : undefined;
}

/** Parses "bytes 10-19/100" → { start: 10, end: 19 }. */
export function parseContentRange(value: string | null): { start: number; end: number; total?: number } | undefined {
  const m = value?.match(/^bytes (\d+)-(\d+)\/(\d+|\*)$/i);
  if (!m) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? undefined : Number(m[3]) };
}

export function parseByteranges(body: Uint8Array, boundary: string): RangePart[] {
  const delim = new TextEncoder().encode(`--${boundary}`);
  const parts: RangePart[] = [];
  let pos = indexOf(body, delim, 0);
  while (pos >= 0) {
    pos += delim.length;
    if (body[pos] === 45 && body[pos + 1] === 45) break; // closing "--boundary--"
    const headersEnd = indexOf(body, CRLF2, pos);
    if (headersEnd < 0) throw new Error('multipart/byteranges: part without header end');
    const headerText = new TextDecoder().decode(body.subarray(pos, headersEnd));
    const cr = headerText.split(/\r\n/).find((l) => /^content-range:/i.test(l));
    const range = parseContentRange(cr ? cr.slice(cr.indexOf(':') + 1).trim() : null);
    if (!range) throw new Error('multipart/byteranges: part without a valid Content-Range');
    const dataStart = headersEnd + 4;
    const len = range.end - range.start + 1;
    if (dataStart + len > body.length) throw new Error('multipart/byteranges: part shorter than its Content-Range');
    parts.push({ start: range.start, bytes: body.subarray(dataStart, dataStart + len) });
    pos = indexOf(body, delim, dataStart + len);
  }
  return parts;
}
