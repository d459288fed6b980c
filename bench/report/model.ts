// The bench report: one source for the terminal table, the JSON file, the SVG chart and the HTML
// page. Field names are the JSON's (scripts depend on them: see issue 6's interface).
import type { RunFigures } from '../cold-run.ts';

export type Figures = RunFigures;
export const FIGURE_KEYS = ['pull_s', 'create_s', 'run_s', 'total_s', 'bytes_fetched', 'requests', 'peak_rss_bytes', 'lazy_layers', 'pulled_layers'] as const;

export interface ResultEntry {
  workload: string;
  variant: string;
  /** edgebuild variant, or a peer tool on the same registry and network. */
  kind: 'edgebuild' | 'peer';
  image?: string;
  /** Compressed size of the image's layers as stored. */
  layer_bytes?: number;
  runs: Figures[];
  median: Figures;
  min: Figures;
  max: Figures;
  /** median total ÷ the workload's physical limit. */
  ratio_to_limit?: number;
  /** median total ÷ legacy's median total. */
  ratio_to_legacy?: number;
  error?: string;
}

/** seconds = transfer_s + rtt_s + compute_s (see bench/limit.ts). */
export interface LimitEntry {
  seconds: number;
  /** Uncompressed bytes the workload read (recorded), in `files` files. */
  read_bytes: number;
  files: number;
  /** What a lazy reader must fetch: chunk_bytes + toc_bytes + meta_bytes. */
  fetch_bytes: number;
  /** Compressed bytes of the `chunks` eStargz chunks that hold the bytes read. */
  chunk_bytes: number;
  chunks: number;
  /** Footer + TOC of all `layers` layers. */
  toc_bytes: number;
  /** Manifest + config. */
  meta_bytes: number;
  layers: number;
  /** fetch_bytes ÷ measured rate. */
  transfer_s: number;
  round_trips: number;
  /** round_trips × measured RTT. */
  rtt_s: number;
  compute_s: number;
}

export interface NetworkInfo {
  profile: string;
  mechanism: string;
  shaped: boolean;
  target: { rtt_ms: number; rate_bps: number | null };
  measured: { rtt_ms: number; rate_bps: number };
  note?: string;
}

export interface BenchReport {
  edgebuild: string;
  date: string;
  runs_per_variant: number;
  network: NetworkInfo;
  results: ResultEntry[];
  limit: Record<string, LimitEntry>;
  /** Fully cached rebuild wall time of `edgebuild build` (legacy image), per workload. */
  cached_rebuild_s?: Record<string, number>;
}

function pick(rows: Figures[], f: (xs: number[]) => number): Figures {
  const out = {} as Figures;
  for (const k of FIGURE_KEYS) out[k] = f(rows.map((r) => r[k]));
  // Phase marks seen in every run (child processes of bench __run).
  const names = rows.length && rows.every((r) => r.phases) ? Object.keys(rows[0].phases!).filter((n) => rows.every((r) => n in r.phases!)) : [];
  if (names.length) out.phases = Object.fromEntries(names.map((n) => [n, f(rows.map((r) => r.phases![n]))]));
  return out;
}

export function median(xs: number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function summarize(rows: Figures[]): { median: Figures; min: Figures; max: Figures } {
  return { median: pick(rows, median), min: pick(rows, (xs) => Math.min(...xs)), max: pick(rows, (xs) => Math.max(...xs)) };
}

/** Fills in the ratios once limits and legacy medians are known. */
export function addRatios(report: BenchReport): void {
  for (const r of report.results) {
    if (!r.runs.length) continue;
    const limit = report.limit[r.workload];
    if (limit?.seconds) r.ratio_to_limit = r.median.total_s / limit.seconds;
    const legacy = report.results.find((x) => x.workload === r.workload && x.variant === 'legacy' && x.runs.length);
    if (legacy) r.ratio_to_legacy = r.median.total_s / legacy.median.total_s;
  }
}

export const fmtS = (s: number) => (s < 10 ? s.toFixed(2) : s.toFixed(1));
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}
export const fmtRate = (bps: number) => (!isFinite(bps) ? 'unlimited' : bps >= 1e9 ? `${(bps / 1e9).toFixed(2)} Gbit/s` : `${(bps / 1e6).toFixed(1)} Mbit/s`);

/** The limit and its decomposition, a headline and detail lines (table and HTML page). */
export function describeLimit(l: LimitEntry, net: NetworkInfo): string[] {
  return [
    `${fmtS(l.seconds)} s = ${fmtS(l.transfer_s)} s transfer + ${fmtS(l.rtt_s)} s round trips + ${fmtS(l.compute_s)} s compute (warm local copy)`,
    `transfer: ${fmtBytes(l.fetch_bytes)} ÷ ${fmtRate(net.measured.rate_bps)}; bytes: ${fmtBytes(l.chunk_bytes)} in ${l.chunks} chunks holding the ${fmtBytes(l.read_bytes)} read from ${l.files} files + ${fmtBytes(l.toc_bytes)} footers+TOCs of ${l.layers} layers + ${fmtBytes(l.meta_bytes)} manifest+config`,
    `round trips: ${l.round_trips} × ${net.measured.rtt_ms.toFixed(1)} ms (connect, manifest, config ∥ footers+TOCs, data)`,
  ];
}
