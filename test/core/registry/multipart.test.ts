import { describe, expect, test } from 'bun:test';
import { parseByteranges, boundaryOf, parseContentRange } from '../../../core/registry/multipart.ts';

describe('multipart/byteranges', () => {
  test('parts with binary bodies that contain the boundary text', () => {
    const b = 'XYZ';
    const body = Buffer.concat([
      Buffer.from(`--${b}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-4/100\r\n\r\n`),
      Buffer.from('--XYZ'),
      Buffer.from(`\r\n--${b}\r\nContent-Range: bytes 50-52/100\r\n\r\n`),
      Buffer.from([0, 1, 2]),
      Buffer.from(`\r\n--${b}--\r\n`),
    ]);
    const parts = parseByteranges(new Uint8Array(body), b);
    expect(parts.map((p) => [p.start, Buffer.from(p.bytes).toString('hex')])).toEqual([
      [0, Buffer.from('--XYZ').toString('hex')],
      [50, '000102'],
    ]);
  });
  test('headers', () => {
    expect(boundaryOf('multipart/byteranges; boundary=abc')).toBe('abc');
    expect(boundaryOf('multipart/byteranges; boundary="a b"')).toBe('a b');
    expect(parseContentRange('bytes 1-2/3')).toEqual({ start: 1, end: 2, total: 3 });
    expect(parseContentRange('bytes 1-2/*')).toEqual({ start: 1, end: 2, total: undefined });
    expect(parseContentRange('nonsense')).toBeUndefined();
  });
});
