// Where the compressed-size difference between edgebuild's eStargz layers and the reference's
// (ctr-remote / estargz.Build, Go) comes from, layer by layer, for bench/convert.ts:
//  - layout/content: the same layers with edgebuild's member bytes put through the reference's codec
//    (Go compress/gzip at the same level, via `estargz-check members`). What remains between that and
//    the reference is member cuts, tar header bytes and TOC offsets.
//  - codec: edgebuild's blob vs those same member bytes through Go — zlib (Bun's) vs Go's deflate.
//  - checks that name the layout differences: TOC entries field by field (offsets aside), member
//    cuts, tar header fields.
//  - a level table: edgebuild's member bytes at other zlib levels, with single-thread compress time
//    next to Go's time on the same bytes.
import { gunzipSync, gzipSync } from 'node:zlib';
import { compressTocMember } from '../plugins/snapshotter-stargz/estargz/compress.ts';
import { ESTARGZ_FOOTER_SIZE } from '../plugins/snapshotter-stargz/estargz/constants.ts';
import { parseTar, type TarEntry } from '../plugins/snapshotter-stargz/estargz/tar-read.ts';
import { goMembers, type GoMember } from '../test/interop/estargz-check/build-checker.ts';

export interface LayerPair {
  label: string;
  ours: string;
  ref: string;
}

const pct = (a: number, b: number) => `${a >= b ? '+' : ''}${(((a - b) / b) * 100).toFixed(2)}%`;
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** ustar header fields, for naming which bytes differ. */
const USTAR_FIELDS: [string, number, number][] = [
  ['name', 0, 100], ['mode', 100, 8], ['uid', 108, 8], ['gid', 116, 8], ['size', 124, 12], ['mtime', 136, 12],
  ['chksum', 148, 8], ['typeflag', 156, 1], ['linkname', 157, 100], ['magic', 257, 8], ['uname', 265, 32],
  ['gname', 297, 32], ['devmajor', 329, 8], ['devminor', 337, 8], ['prefix', 345, 155], ['pad', 500, 12],
];

interface Blob {
  bytes: Uint8Array;
  members: GoMember[];
  /** Decompressed payload (everything before the TOC member). */
  payload: Uint8Array;
  tocTar: Uint8Array;
  tocJson: Uint8Array;
  entries: TarEntry[];
}

function open(bytes: Uint8Array, members: GoMember[], path: string): Blob {
  // Last member: the footer (empty); the one before: TOC tar entry + end of archive.
  if (members.length < 3 || members[members.length - 1].plain !== 0) throw new Error(`${path}: not an eStargz member layout`);
  const toc = members[members.length - 2];
  const payload = new Uint8Array(gunzipSync(bytes.subarray(0, toc.offset)));
  const tocTar = new Uint8Array(gunzipSync(bytes.subarray(toc.offset, toc.offset + toc.compressed)));
  const e = parseTar(tocTar)[0];
  return { bytes, members, payload, tocTar, tocJson: tocTar.subarray(e.dataStart, e.dataStart + e.size), entries: parseTar(payload) };
}

function tocDiff(a: Blob, b: Blob): { entries: [number, number]; fields: Map<string, number> } {
  const ea = JSON.parse(new TextDecoder().decode(a.tocJson)).entries as Record<string, unknown>[];
  const eb = JSON.parse(new TextDecoder().decode(b.tocJson)).entries as Record<string, unknown>[];
  const fields = new Map<string, number>();
  const bump = (k: string) => fields.set(k, (fields.get(k) ?? 0) + 1);
  for (let i = 0; i < Math.max(ea.length, eb.length); i++) {
    const x = ea[i] ?? {};
    const y = eb[i] ?? {};
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) {
      if (k !== 'offset' && JSON.stringify(x[k]) !== JSON.stringify(y[k])) bump(k);
    }
  }
  return { entries: [ea.length, eb.length], fields };
}

function headerDiff(ours: Blob, ref: Blob): { compared: number; lengthDiffers: string[]; fields: Map<string, number> } {
  const refBy = new Map(ref.entries.map((e) => [e.name, e]));
  const fields = new Map<string, number>();
  const lengthDiffers: string[] = [];
  let compared = 0;
  for (const e of ours.entries) {
    const r = refBy.get(e.name);
    if (!r) continue;
    compared++;
    const ho = ours.payload.subarray(e.headerStart, e.dataStart);
    const hr = ref.payload.subarray(r.headerStart, r.dataStart);
    if (ho.length !== hr.length) {
      lengthDiffers.push(`${e.name} (${ho.length} vs ${hr.length} header bytes)`);
      continue;
    }
    const lo = ho.subarray(ho.length - 512);
    const lr = hr.subarray(hr.length - 512);
    for (const [f, at, n] of USTAR_FIELDS) {
      if (!Buffer.from(lo.subarray(at, at + n)).equals(lr.subarray(at, at + n))) fields.set(f, (fields.get(f) ?? 0) + 1);
    }
  }
  return { compared, lengthDiffers, fields };
}

/**
 * Where members start (footer excluded), as "entry name @ offset from its data start" so that a
 * header of another length (PAX) earlier in the stream does not shift every later cut.
 */
function cuts(b: Blob): Set<string> {
  const out = new Set<string>();
  const es = b.entries;
  let u = 0;
  for (const m of b.members.slice(0, -1)) {
    let lo = 0;
    let hi = es.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (es[mid].headerStart <= u) lo = mid;
      else hi = mid - 1;
    }
    out.add(u >= b.payload.length ? 'TOC' : `${es[lo].name}@${u - es[lo].dataStart}`);
    u += m.plain;
  }
  return out;
}

const fmtFields = (m: Map<string, number>) => (m.size === 0 ? 'none' : [...m].map(([k, n]) => `${k} ${n}`).join(', '));

/** Print the per-layer comparison, the decomposition and the level table. `zlibLevels` [] skips the table. */
export async function printSizeDecomposition(bin: string, layers: LayerPair[], level: number, zlibLevels: number[]): Promise<void> {
  const rows: string[][] = [['layer', 'uncompressed', 'reference', 'edgebuild', 'diff', 'members ref/eb', 'TOC json ref/eb', 'TOC member ref/eb']];
  const dec: string[][] = [['layer', `eb bytes via Go -${level}`, 'layout/content part', `codec part (zlib -${level} vs Go -${level})`, 'of which TOC member', `Go -${level} re-run on ref bytes`]];
  const checks: string[] = [];
  const tot = { ref: 0, ours: 0, oursGo: 0, plain: 0, data: 0, goNanos: 0 };
  const table = new Map<number, { size: number; ms: number }>(zlibLevels.map((l) => [l, { size: 0, ms: 0 }]));
  for (const l of layers) {
    // One after the other: the Go times below are compared with zlib's on this thread.
    const refMembers = await goMembers(bin, l.ref, level);
    const ourMembers = await goMembers(bin, l.ours, level);
    const ref = open(await Bun.file(l.ref).bytes(), refMembers, l.ref);
    const ours = open(await Bun.file(l.ours).bytes(), ourMembers, l.ours);
    const refSize = ref.bytes.length;
    const oursSize = ours.bytes.length;
    // Footers are 51 bytes of stored gzip in both; recompressing them would not be the same format.
    const viaGo = (ms: GoMember[]) => sum(ms.slice(0, -1).map((m) => m.goSize)) + ESTARGZ_FOOTER_SIZE;
    const oursGo = viaGo(ourMembers);
    const tocRef = refMembers[refMembers.length - 2];
    const tocOurs = ourMembers[ourMembers.length - 2];
    const plain = ours.payload.length + ours.tocTar.length;
    tot.ref += refSize;
    tot.ours += oursSize;
    tot.oursGo += oursGo;
    tot.plain += plain;
    tot.data += ours.payload.length;
    tot.goNanos += sum(ourMembers.slice(0, -2).map((m) => m.goNanos));
    rows.push([l.label, `${(plain / 1e6).toFixed(1)} MB`, String(refSize), String(oursSize), pct(oursSize, refSize),
      `${refMembers.length}/${ourMembers.length}`, `${ref.tocJson.length}/${ours.tocJson.length}`, `${tocRef.compressed}/${tocOurs.compressed}`]);
    dec.push([l.label, String(oursGo), pct(oursGo, refSize), pct(oursSize, oursGo),
      `${tocOurs.compressed - tocOurs.goSize >= 0 ? '+' : ''}${tocOurs.compressed - tocOurs.goSize} bytes`,
      viaGo(refMembers) === refSize ? 'reproduces it exactly' : `${viaGo(refMembers)} (differs)`]);

    const toc = tocDiff(ref, ours);
    const cr = cuts(ref);
    const co = cuts(ours);
    const onlyRef = [...cr].filter((c) => !co.has(c)).length;
    const onlyOurs = [...co].filter((c) => !cr.has(c)).length;
    const hd = headerDiff(ours, ref);
    // The footer's only variable part is the TOC offset (16 hex digits at 16..32).
    const footer = (b: Uint8Array) => {
      const f = Buffer.from(b.subarray(b.length - ESTARGZ_FOOTER_SIZE));
      return f.fill(0x30, 16, 32);
    };
    const footerSame = footer(ours.bytes).equals(footer(ref.bytes));
    checks.push(
      `  ${l.label}: TOC entries ref/eb ${toc.entries.join('/')}, fields differing besides offset: ${fmtFields(toc.fields)}; ` +
        `member cuts only in reference ${onlyRef} (it ends a member at each of its GOMAXPROCS parts), only in edgebuild ${onlyOurs}; ` +
        `footer ${footerSame ? 'identical apart from the TOC offset' : 'DIFFERS'}; uncompressed ref/eb ${ref.payload.length + ref.tocTar.length}/${plain}`,
      `     tar headers compared ${hd.compared}: ustar fields differing: ${fmtFields(hd.fields)}; header length differs: ${hd.lengthDiffers.length}${hd.lengthDiffers.length ? ` (${hd.lengthDiffers.slice(0, 3).join('; ')})` : ''}`,
    );

    if (zlibLevels.length) {
      const dataMembers = ourMembers.slice(0, -2);
      let u = 0;
      const plains = dataMembers.map((m) => ours.payload.subarray(u, (u += m.plain)));
      // Levels interleaved member by member, so load from other processes falls on all of them alike.
      for (const p of plains) {
        for (const z of zlibLevels) {
          const t0 = performance.now();
          const n = gzipSync(p, { level: z }).length;
          const row = table.get(z)!;
          row.ms += performance.now() - t0;
          row.size += n;
        }
      }
      for (const z of zlibLevels) table.get(z)!.size += compressTocMember(ours.tocTar, z).length + ESTARGZ_FOOTER_SIZE;
    }
  }
  rows.push(['all', `${(tot.plain / 1e6).toFixed(1)} MB`, String(tot.ref), String(tot.ours), pct(tot.ours, tot.ref), '', '', '']);
  dec.push(['all', String(tot.oursGo), pct(tot.oursGo, tot.ref), pct(tot.ours, tot.oursGo), '', '']);

  const print = (t: string[][]) => {
    const w = t[0].map((_, i) => Math.max(...t.map((r) => (r[i] ?? '').length)));
    for (const r of t) console.log(`  ${r.map((c, i) => c.padEnd(w[i])).join('  ')}`.trimEnd());
  };
  console.log(`\ncompressed size vs the reference at gzip level ${level}, per layer (diff = edgebuild vs reference):`);
  print(rows);
  console.log(`\ndecomposition: edgebuild's member bytes recompressed with Go compress/gzip -${level} (the reference's codec)`);
  console.log(`  layout/content part = (eb via Go - reference) / reference; codec part = (edgebuild - eb via Go) / eb via Go`);
  print(dec);
  console.log('\nlayout/content checks (reference = Go archive/tar re-encoding each header; edgebuild keeps the input header bytes):');
  for (const c of checks) console.log(c);
  if (zlibLevels.length) {
    console.log(`\nedgebuild's member bytes (all layers) at other zlib levels vs the reference at Go -${level}; compress time on this thread:`);
    const t: string[][] = [['codec', 'size', `vs reference -${level}`, 'compress s', 'MB/s']];
    t.push([`Go -${level} (reference codec)`, String(tot.oursGo), pct(tot.oursGo, tot.ref), (tot.goNanos / 1e9).toFixed(1), (tot.data / 1e6 / (tot.goNanos / 1e9)).toFixed(1)]);
    for (const [z, r] of table) t.push([`zlib -${z}`, String(r.size), pct(r.size, tot.ref), (r.ms / 1000).toFixed(1), (tot.data / 1e6 / (r.ms / 1000)).toFixed(1)]);
    print(t);
    console.log(`  (zlib -${level} row = edgebuild's actual output ${tot.ours === table.get(level)?.size ? 'exactly' : `(actual ${tot.ours})`}; times exclude the TOC member)`);
  }
}
