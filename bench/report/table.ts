// The terminal table: one row per workload and variant, medians with the total's min–max.
import { describeLimit, fmtBytes, fmtS, type BenchReport } from './model.ts';

export function renderTable(report: BenchReport): string[] {
  const head = ['workload', 'variant', 'pull', 'create', 'run', 'total (min–max)', '×limit', '×legacy', 'fetched', 'reqs', 'peak RSS'];
  const rows: string[][] = [];
  for (const r of report.results) {
    if (!r.runs.length) {
      rows.push([r.workload, r.variant, '—', '—', '—', `error: ${r.error ?? 'no runs'}`, '', '', '', '', '']);
      continue;
    }
    const m = r.median;
    rows.push([
      r.workload,
      r.variant,
      fmtS(m.pull_s),
      fmtS(m.create_s),
      fmtS(m.run_s),
      `${fmtS(m.total_s)} (${fmtS(r.min.total_s)}–${fmtS(r.max.total_s)})`,
      r.ratio_to_limit !== undefined ? `${r.ratio_to_limit.toFixed(2)}×` : '',
      r.ratio_to_legacy !== undefined && r.variant !== 'legacy' ? `${r.ratio_to_legacy.toFixed(2)}×` : '',
      fmtBytes(m.bytes_fetched),
      String(Math.round(m.requests)),
      fmtBytes(m.peak_rss_bytes),
    ]);
  }
  // Error text may be long: it does not widen its column.
  const widths = head.map((h, i) => Math.max(h.length, ...rows.filter((r) => !r[5].startsWith('error') || i !== 5).map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i >= 2 && i !== 5 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  out.push('');
  out.push('seconds; medians of ' + report.runs_per_variant + ' cold run(s); ×limit = total ÷ physical limit, ×legacy = total ÷ legacy total');
  for (const [w, l] of Object.entries(report.limit)) {
    const [first, ...rest] = describeLimit(l, report.network);
    out.push(`limit ${w}: ${first}`, ...rest.map((x) => `  ${x}`));
  }
  for (const [w, s] of Object.entries(report.cached_rebuild_s ?? {})) out.push(`cached rebuild ${w}: ${s.toFixed(3)} s (edgebuild build, every step CACHED)`);
  return out;
}
