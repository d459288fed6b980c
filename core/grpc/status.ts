// gRPC status codes and the error that carries one across the wire (grpc-status, grpc-message).

export const Code = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type StatusCode = (typeof Code)[keyof typeof Code];

const NAMES = Object.fromEntries(Object.entries(Code).map(([k, v]) => [v, k])) as Record<number, string>;

export function codeName(code: number): string {
  return NAMES[code] ?? `code ${code}`;
}

export class GrpcError extends Error {
  constructor(
    readonly code: StatusCode,
    message: string,
  ) {
    super(message);
    this.name = 'GrpcError';
  }
}

/** grpc-message is percent-encoded UTF-8 (anything outside printable ASCII, and '%'). */
export function encodeGrpcMessage(msg: string): string {
  let out = '';
  for (const b of new TextEncoder().encode(msg)) out += b >= 0x20 && b <= 0x7e && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

export function decodeGrpcMessage(msg: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < msg.length; i++) {
    const hex = msg.slice(i + 1, i + 3);
    if (msg[i] === '%' && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(msg.charCodeAt(i) & 0xff);
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

/** Parses a grpc-status header value; anything that is not 0–16 is UNKNOWN. */
export function parseStatus(value: string | string[] | undefined): StatusCode | undefined {
  if (value === undefined) return undefined;
  const n = Number(Array.isArray(value) ? value[0] : value);
  return Number.isInteger(n) && n >= 0 && n <= 16 ? (n as StatusCode) : Code.UNKNOWN;
}
