// Protocol Buffers wire format (proto3), enough for containerd's snapshots API: varints,
// length-delimited fields (strings, bytes, nested messages, map entries) and skipping of fixed
// 32/64-bit fields we do not use. Messages are encoded and decoded by hand in messages files.

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Appends fields to a growing buffer. Proto3 defaults (0, "", empty) are left out. */
export class ProtoWriter {
  private buf = new Uint8Array(64);
  private len = 0;

  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  private varint(value: bigint): void {
    // Negative int64 values take ten bytes, as two's complement in 64 bits.
    let v = BigInt.asUintN(64, value);
    this.ensure(10);
    while (v >= 0x80n) {
      this.buf[this.len++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    this.buf[this.len++] = Number(v);
  }

  private tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  private lengthDelimited(field: number, bytes: Uint8Array): void {
    this.tag(field, WIRE_LEN);
    this.varint(BigInt(bytes.length));
    this.ensure(bytes.length);
    this.buf.set(bytes, this.len);
    this.len += bytes.length;
  }

  /** int32, int64, uint64, enum. */
  int(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    this.tag(field, WIRE_VARINT);
    this.varint(BigInt(value));
    return this;
  }

  string(field: number, value: string | undefined): this {
    if (value) this.lengthDelimited(field, utf8.encode(value));
    return this;
  }

  /** A repeated string: one field per element (empty strings included, unlike singular ones). */
  strings(field: number, values: readonly string[]): this {
    for (const s of values) this.lengthDelimited(field, utf8.encode(s));
    return this;
  }

  /** A nested message; `always` writes it even when empty (a non-nullable submessage). */
  message(field: number, body: Uint8Array | undefined, always = false): this {
    if (body && (body.length > 0 || always)) this.lengthDelimited(field, body);
    return this;
  }

  /** map<string, string>: repeated entries {1: key, 2: value}, sorted for stable output. */
  map(field: number, map: Record<string, string> | undefined): this {
    for (const k of Object.keys(map ?? {}).sort()) this.lengthDelimited(field, new ProtoWriter().string(1, k).string(2, map![k]).finish());
    return this;
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}

export type FieldValue = { wire: 0; value: bigint } | { wire: 2; value: Uint8Array } | { wire: 1 | 5; value: Uint8Array };

/** Decodes one message into its fields, in order. Truncated input, bad wire types, over-long
 *  varints and field number 0 are errors naming the byte offset and `what` is being read. */
export function readFields(buf: Uint8Array, what: string): { field: number; v: FieldValue }[] {
  const out: { field: number; v: FieldValue }[] = [];
  let pos = 0;
  const fail = (msg: string): never => {
    throw new ProtobufError(`${what}: ${msg} at byte ${pos} of ${buf.length}`);
  };
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; shift < 70n; shift += 7n) {
      if (pos >= buf.length) fail('truncated varint');
      const b = buf[pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) {
        if (result >= 1n << 64n) fail('varint exceeds 64 bits');
        return result;
      }
    }
    return fail('varint longer than 10 bytes');
  };
  const take = (n: number): Uint8Array => {
    if (pos + n > buf.length) fail(`field wants ${n} bytes, only ${buf.length - pos} left`);
    const s = buf.subarray(pos, pos + n);
    pos += n;
    return s;
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Number(key >> 3n);
    const wire = Number(key & 7n);
    if (field === 0) fail('field number 0');
    if (field > 536_870_911) fail(`field number ${field} out of range`);
    switch (wire) {
      case WIRE_VARINT:
        out.push({ field, v: { wire: 0, value: varint() } });
        break;
      case WIRE_LEN: {
        const n = varint();
        if (n > BigInt(buf.length - pos)) fail(`length ${n} exceeds the ${buf.length - pos} bytes left`);
        out.push({ field, v: { wire: 2, value: take(Number(n)) } });
        break;
      }
      case WIRE_FIXED64:
        out.push({ field, v: { wire: 1, value: take(8) } });
        break;
      case WIRE_FIXED32:
        out.push({ field, v: { wire: 5, value: take(4) } });
        break;
      default:
        fail(`unsupported wire type ${wire} (field ${field})`);
    }
  }
  return out;
}

function expectWire(f: { field: number; v: FieldValue }, wire: number, what: string): void {
  if (f.v.wire !== wire) throw new ProtobufError(`${what}: field ${f.field} has wire type ${f.v.wire}, expected ${wire}`);
}

export function asString(f: { field: number; v: FieldValue }, what: string): string {
  expectWire(f, WIRE_LEN, what);
  try {
    return utf8Strict.decode(f.v.value as Uint8Array);
  } catch {
    throw new ProtobufError(`${what}: field ${f.field} is not valid UTF-8`);
  }
}

export function asBytes(f: { field: number; v: FieldValue }, what: string): Uint8Array {
  expectWire(f, WIRE_LEN, what);
  return f.v.value as Uint8Array;
}

/** int64 (two's complement) as a number; values beyond 2^53 are an error. */
export function asInt64(f: { field: number; v: FieldValue }, what: string): number {
  expectWire(f, WIRE_VARINT, what);
  const n = BigInt.asIntN(64, f.v.value as bigint);
  if (n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER)) throw new ProtobufError(`${what}: field ${f.field} value ${n} is beyond 2^53`);
  return Number(n);
}

/** int32 / enum: the low 32 bits, signed. */
export function asInt32(f: { field: number; v: FieldValue }, what: string): number {
  expectWire(f, WIRE_VARINT, what);
  return Number(BigInt.asIntN(32, f.v.value as bigint));
}

/** One map<string,string> entry, added to `into` (the last duplicate key wins, as in protobuf). */
export function readMapEntry(f: { field: number; v: FieldValue }, into: Record<string, string>, what: string): void {
  let key = '';
  let value = '';
  for (const e of readFields(asBytes(f, what), `${what} map entry`)) {
    if (e.field === 1) key = asString(e, `${what} map key`);
    else if (e.field === 2) value = asString(e, `${what} map value`);
  }
  Object.defineProperty(into, key, { value, enumerable: true, writable: true, configurable: true });
}
