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

export interface LimitEntry {
  seconds: number;
  read_bytes: number;
  files: number;
  round_trips: number;
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
