// A self-contained HTML page: the table and the chart inline, no scripts or external resources.
import { renderSvg } from './svg.ts';
import { describeLimit, fmtBytes, fmtRate, fmtS, type BenchReport } from './model.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function renderHtml(report: BenchReport): string {
  const n = report.network;
  const rows = report.results
    .map((r) => {
      if (!r.runs.length) return `<tr><td>${esc(r.workload)}</td><td>${esc(r.variant)}</td><td colspan="10" class="err">${esc(r.error ?? 'no runs')}</td></tr>`;
      const m = r.median;
      const cells = [
        fmtS(m.pull_s),
        fmtS(m.create_s),
        fmtS(m.run_s),
        `${fmtS(m.total_s)} <small>(${fmtS(r.min.total_s)}–${fmtS(r.max.total_s)})</small>`,
        r.ratio_to_limit !== undefined ? `${r.ratio_to_limit.toFixed(2)}×` : '',
        r.ratio_to_legacy !== undefined && r.variant !== 'legacy' ? `${r.ratio_to_legacy.toFixed(2)}×` : '',
        fmtBytes(m.bytes_fetched),
        String(Math.round(m.requests)),
        fmtBytes(m.peak_rss_bytes),
        r.layer_bytes !== undefined ? fmtBytes(r.layer_bytes) : '',
      ];
      return `<tr><td>${esc(r.workload)}</td><td>${esc(r.variant)}</td>${cells.map((c) => `<td class="n">${c}</td>`).join('')}</tr>`;
    })
    .join('\n');
  const limits = Object.entries(report.limit)
    .map(([w, l]) => {
      const [first, ...rest] = describeLimit(l, n);
      return `<li><b>${esc(w)}</b>: ${esc(first)}<br><small>${rest.map(esc).join('<br>')}</small></li>`;
    })
    .join('\n');
  const rebuild = Object.entries(report.cached_rebuild_s ?? {})
    .map(([w, s]) => `<li>${esc(w)}: fully cached rebuild ${s.toFixed(3)} s</li>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgebuild bench — ${esc(n.profile)}</title>
<style>
body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
td.n{text-align:right;font-variant-numeric:tabular-nums}.err{color:#b00}small{color:#666}
</style></head><body>
<h1>edgebuild bench</h1>
<p>edgebuild ${esc(report.edgebuild)}, ${esc(report.date)}. Network <b>${esc(n.profile)}</b>: ${esc(n.mechanism)}; measured RTT ${n.measured.rtt_ms.toFixed(2)} ms, rate ${esc(fmtRate(n.measured.rate_bps))}${n.note ? ` (${esc(n.note)})` : ''}.
Every run is cold: fresh root (content store, snapshots, chunk and build cache empty), registry blobs evicted from the page cache. Medians of ${report.runs_per_variant} run(s), seconds.</p>
<table><thead><tr><th>workload</th><th>variant</th><th>pull</th><th>create</th><th>run</th><th>total (min–max)</th><th>×limit</th><th>×legacy</th><th>fetched</th><th>requests</th><th>peak RSS</th><th>image layers</th></tr></thead>
<tbody>
${rows}
</tbody></table>
<h2>Physical limits</h2><ul>
${limits}
</ul>
${rebuild ? `<h2>Cached rebuilds</h2><ul>\n${rebuild}\n</ul>` : ''}
<h2>Chart</h2>
${renderSvg(report)}
</body></html>
`;
}
