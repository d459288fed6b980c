// The chart, after stargz-snapshotter's "time to take for starting up containers": per workload
// a group of horizontal bars, one per variant (and peer), stacked pull / create / run / other
// (the rest of the wall time: process start, build graph, export). Each group has its own scale
// and a dashed line at the workload's physical limit. Plain SVG, no scripts or external fonts.
import { fmtS, type BenchReport } from './model.ts';

export const PHASE_COLORS = { pull: '#4e79a7', create: '#f28e2b', run: '#59a14f', other: '#bab0ac' } as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A round axis step giving about four ticks up to `max`. */
function niceStep(max: number): number {
  const raw = max / 4;
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? raw;
}

export function renderSvg(report: BenchReport): string {
  const W = 900;
  const labelW = 150;
  const plotW = W - labelW - 90;
  const barH = 18;
  const gap = 6;
  const parts: string[] = [];
  let y = 58;
  const workloads = [...new Set(report.results.map((r) => r.workload))];
  for (const w of workloads) {
    const rows = report.results.filter((r) => r.workload === w);
    const limit = report.limit[w]?.seconds;
    const max = Math.max(limit ?? 0, ...rows.map((r) => (r.runs.length ? r.max.total_s : 0)), 0.001);
    const step = niceStep(max);
    const top = Math.ceil(max / step) * step;
    const x = (s: number) => labelW + (s / top) * plotW;
    parts.push(`<text x="8" y="${y + 12}" font-weight="bold">${esc(w)}</text>`);
    y += 20;
    const groupTop = y;
    for (const r of rows) {
      parts.push(`<text x="${labelW - 8}" y="${y + 13}" text-anchor="end">${esc(r.variant)}</text>`);
      if (!r.runs.length) {
        const why = r.error ?? 'no runs';
        // The full text is in the tooltip; the line keeps to the chart's width.
        parts.push(`<text x="${labelW}" y="${y + 13}" fill="#b00">${esc(why.length > 110 ? why.slice(0, 107) + '…' : why)}<title>${esc(why)}</title></text>`);
      } else {
        const m = r.median;
        const other = Math.max(0, m.total_s - m.pull_s - m.create_s - m.run_s);
        let at = 0;
        for (const [phase, secs] of [['pull', m.pull_s], ['create', m.create_s], ['run', m.run_s], ['other', other]] as const) {
          if (secs <= 0) continue;
          parts.push(`<rect x="${x(at).toFixed(1)}" y="${y}" width="${(x(at + secs) - x(at)).toFixed(1)}" height="${barH}" fill="${PHASE_COLORS[phase]}"><title>${esc(`${r.variant} ${phase}: ${fmtS(secs)} s`)}</title></rect>`);
          at += secs;
        }
        // min–max whisker of the total
        parts.push(`<line x1="${x(r.min.total_s).toFixed(1)}" x2="${x(r.max.total_s).toFixed(1)}" y1="${y + barH / 2}" y2="${y + barH / 2}" stroke="#333" stroke-width="1"/>`);
        parts.push(`<text x="${(x(Math.max(m.total_s, r.max.total_s)) + 6).toFixed(1)}" y="${y + 13}">${fmtS(m.total_s)} s</text>`);
      }
      y += barH + gap;
    }
    if (limit) {
      parts.push(`<line x1="${x(limit).toFixed(1)}" x2="${x(limit).toFixed(1)}" y1="${groupTop - 4}" y2="${y - gap + 4}" stroke="#b00" stroke-dasharray="4 3"><title>physical limit ${fmtS(limit)} s</title></line>`);
    }
    // axis
    parts.push(`<line x1="${labelW}" x2="${labelW + plotW}" y1="${y}" y2="${y}" stroke="#999"/>`);
    for (let t = 0; t <= top + 1e-9; t += step) {
      parts.push(`<line x1="${x(t).toFixed(1)}" x2="${x(t).toFixed(1)}" y1="${y}" y2="${y + 4}" stroke="#999"/><text x="${x(t).toFixed(1)}" y="${y + 16}" text-anchor="middle" fill="#555">${+t.toFixed(3)}</text>`);
    }
    y += 34;
  }
  const n = report.network;
  const legend = (['pull', 'create', 'run', 'other'] as const)
    .map((p, i) => `<rect x="${labelW + i * 90}" y="30" width="12" height="12" fill="${PHASE_COLORS[p]}"/><text x="${labelW + i * 90 + 17}" y="41">${p}</text>`)
    .join('');
  const title = `edgebuild bench — ${n.profile}: RTT ${n.measured.rtt_ms.toFixed(1)} ms, ${isFinite(n.measured.rate_bps) ? (n.measured.rate_bps / 1e6).toFixed(0) + ' Mbit/s' : 'unlimited'} (medians of ${report.runs_per_variant}, seconds)`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="18" font-size="14" font-weight="bold">${esc(title)}</text>`,
    legend,
    `<line x1="${labelW + 370}" x2="${labelW + 390}" y1="36" y2="36" stroke="#b00" stroke-dasharray="4 3"/><text x="${labelW + 395}" y="41">physical limit</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
