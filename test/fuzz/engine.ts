// A small seeded mutation fuzzer: inputs grow from a seed corpus by byte-level (and, for JSON,
// structure-level) mutations; each target says which rejections are "clear errors". Anything else
// (a TypeError, a RangeError, a multi-line or empty message, an input that takes too long) fails
// with the seed and iteration that reproduce it.
//
// Budget: EDGEBUILD_FUZZ_ITERATIONS=N runs N inputs per target (default: each target's CI count);
// EDGEBUILD_FUZZ_SEED=S changes the seed (default fixed).

export type Rng = () => number;

/** mulberry32: small, fast, good enough for test inputs. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const FUZZ_SEED = Number(process.env.EDGEBUILD_FUZZ_SEED ?? 20261128);

export function iterations(ciDefault: number): number {
  const n = Number(process.env.EDGEBUILD_FUZZ_ITERATIONS);
  return Number.isSafeInteger(n) && n > 0 ? n : ciDefault;
}

const int = (r: Rng, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rng, xs: readonly T[]): T => xs[int(r, xs.length)];

const INTERESTING_BYTES = [0, 1, 0x7f, 0x80, 0xff, 0x2f, 0x2e, 0x0a, 0x22, 0x5c, 0x20, 0x30, 0x37, 0x7b, 0x7d];
const INTERESTING_U32 = [0, 1, 0x7fffffff, 0x80000000, 0xffffffff, 0xfffffffe, 512, 4096, 65536];

/** One to eight random edits of `input` (`other` is spliced from). */
export function mutateBytes(r: Rng, input: Uint8Array, other?: Uint8Array): Uint8Array {
  let b = new Uint8Array(input);
  const edits = 1 + int(r, 8);
  for (let i = 0; i < edits; i++) {
    const at = b.length ? int(r, b.length) : 0;
    switch (int(r, 9)) {
      case 0:
        if (b.length) b[at] ^= 1 << int(r, 8);
        break;
      case 1:
        if (b.length) b[at] = pick(r, INTERESTING_BYTES);
        break;
      case 2:
        if (b.length) b[at] = int(r, 256);
        break;
      case 3: {
        const ins = Uint8Array.from({ length: 1 + int(r, 16) }, () => (r() < 0.5 ? pick(r, INTERESTING_BYTES) : int(r, 256)));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 4:
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(r, 64)))]);
        break;
      case 5: {
        const len = 1 + int(r, 64);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + len), b.subarray(at)]);
        break;
      }
      case 6:
        b = b.subarray(0, int(r, b.length + 1));
        break;
      case 7:
        if (b.length >= 4) {
          const p = int(r, b.length - 3);
          new DataView(b.buffer, b.byteOffset).setUint32(p, pick(r, INTERESTING_U32), r() < 0.5);
        }
        break;
      case 8:
        if (other?.length) {
          const from = int(r, other.length);
          b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + 1 + int(r, 128)), b.subarray(at)]);
        }
        break;
    }
  }
  return b;
}

const ODD_VALUES: unknown[] = [null, true, false, 0, -1, 1.5, 2 ** 53, -(2 ** 63), 1e308, '', 'x', '../../etc', 'sha256:', 'sha256:' + 'a'.repeat(64), '\u0000', 'é'.repeat(300), [], {}, [[]], { a: {} }];

/** Replaces, removes or adds one value somewhere in a JSON document. */
export function mutateJson(r: Rng, doc: unknown): unknown {
  const copy = structuredClone(doc);
  const containers: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const visit = (v: unknown) => {
    if (Array.isArray(v)) v.forEach((x, i) => (containers.push({ parent: v, key: i }), visit(x)));
    else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (containers.push({ parent: v as Record<string, unknown>, key: k }), visit(x));
  };
  visit(copy);
  if (!containers.length) return pick(r, ODD_VALUES);
  const { parent, key } = pick(r, containers);
  const op = int(r, 4);
  if (op === 0) (parent as Record<string | number, unknown>)[key] = pick(r, ODD_VALUES);
  else if (op === 1) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else if (op === 2) {
    if (Array.isArray(parent)) parent.push(structuredClone(parent[int(r, parent.length)] ?? null));
    else parent[pick(r, ['mediaType', 'size', 'digest', 'extra', 'entries', 'chunkOffset', 'offset', 'name', 'type'])] = pick(r, ODD_VALUES);
  } else {
    const v = (parent as Record<string | number, unknown>)[key];
    if (typeof v === 'number') (parent as Record<string | number, unknown>)[key] = pick(r, [v + 1, v - 1, -v, v * 1e6, 0]);
    else if (typeof v === 'string') (parent as Record<string | number, unknown>)[key] = v + pick(r, ['/..', '\u0000', 'x', '']) ;
    else (parent as Record<string | number, unknown>)[key] = pick(r, ODD_VALUES);
  }
  return copy;
}

export interface Target<I> {
  name: string;
  /** Inputs per run in CI. */
  ciIterations: number;
  generate(r: Rng, i: number): I;
  /** Runs one input; resolve = accepted, throw = rejected. */
  run(input: I): void | Promise<void>;
  /** A rejection that is a clear, expected error (right class, one line naming what was wrong). */
  clear(e: unknown): boolean;
  /** Longest one input may take (default 2 s): beyond it counts as a hang. */
  slowMs?: number;
}

export interface FuzzReport {
  name: string;
  executed: number;
  accepted: number;
  rejected: number;
}

export const describeInput = (input: unknown) => {
  const text = input instanceof Uint8Array ? `hex:${Buffer.from(input).toString('hex').slice(0, 400)}` : JSON.stringify(input, (_k, v) => (typeof v === 'bigint' ? String(v) : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));
  return text.length > 600 ? text.slice(0, 600) + '…' : text;
};

/** A one-line, non-empty message not from a JS engine bug class. */
export function isClearMessage(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  if (e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError || e instanceof ReferenceError) return false;
  return e.message.trim() !== '' && !e.message.includes('\n') && !/undefined is not|cannot read propert|is not a function/i.test(e.message);
}

export async function runTarget<I>(t: Target<I>, seed = FUZZ_SEED): Promise<FuzzReport> {
  const r = rng(seed ^ hash(t.name));
  const n = iterations(t.ciIterations);
  const report: FuzzReport = { name: t.name, executed: 0, accepted: 0, rejected: 0 };
  for (let i = 0; i < n; i++) {
    const input = t.generate(r, i);
    const started = performance.now();
    try {
      await t.run(input);
      report.accepted++;
    } catch (e) {
      if (!t.clear(e)) {
        const err = e as Error;
        throw new Error(`fuzz ${t.name}: unclear rejection at seed ${seed} iteration ${i}: ${err?.name}: ${err?.message}\n  input: ${describeInput(input)}\n${err?.stack ?? ''}`);
      }
      report.rejected++;
    }
    const took = performance.now() - started;
    if (took > (t.slowMs ?? 2000)) throw new Error(`fuzz ${t.name}: input took ${Math.round(took)}ms at seed ${seed} iteration ${i}\n  input: ${describeInput(input)}`);
    report.executed++;
  }
  return report;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

export { int, pick };
