// The live view on a terminal: one line per vertex with a timer, redrawn in place; the last lines
// of a running step's output under it. Finished vertices scroll up and stay.
import type { ProgressEvent, ProgressSink } from './events.ts';
import { formatBytes } from './plain.ts';

interface Row {
  n: number;
  name: string;
  start: number;
  end?: number;
  state: 'running' | 'done' | 'cached' | 'error';
  status?: string;
  logs: string[];
}

export function ttyRenderer(write: (text: string) => void, columns = () => process.stderr.columns || 100): { sink: ProgressSink; stop(): void } {
  const rows = new Map<string, Row>();
  let drawn = 0;
  const t0 = Date.now();
  const fit = (s: string) => (s.length > columns() - 1 ? s.slice(0, columns() - 2) + '…' : s);
  const draw = () => {
    let text = drawn ? `\x1b[${drawn}A\x1b[J` : '';
    const lines = [`[+] Building ${((Date.now() - t0) / 1000).toFixed(1)}s (${[...rows.values()].filter((r) => r.state !== 'running').length}/${rows.size})`];
    for (const r of rows.values()) {
      const secs = (((r.end ?? Date.now()) - r.start) / 1000).toFixed(1);
      const tag = r.state === 'cached' ? 'CACHED' : r.state === 'error' ? 'ERROR' : `${secs}s`;
      lines.push(fit(` => ${r.state === 'running' ? '' : ''}#${r.n} ${r.name}${r.status ? ` ${r.status}` : ''}`.padEnd(Math.min(columns() - 12, 80)) + ` ${tag}`));
      if (r.state === 'running' || r.state === 'error') for (const l of r.logs.slice(-6)) lines.push(fit(` => => # ${l}`));
    }
    text += lines.join('\n') + '\n';
    drawn = lines.length;
    write(text);
  };
  const timer = setInterval(draw, 150);
  const sink = (e: ProgressEvent) => {
    const row = rows.get(e.id);
    switch (e.type) {
      case 'vertex.started':
      case 'vertex.cached':
        rows.set(e.id, { n: row?.n ?? rows.size + 1, name: e.name, start: e.time, state: e.type === 'vertex.cached' ? 'cached' : 'running', logs: [] });
        break;
      case 'vertex.log':
        if (row) row.logs.push(...e.data.split('\n').filter(Boolean));
        break;
      case 'vertex.status':
        if (row) row.status = e.total ? `${formatBytes(e.current ?? 0)}/${formatBytes(e.total)}` : e.status;
        break;
      case 'vertex.completed':
        if (row) Object.assign(row, { state: 'done', end: e.time, status: undefined });
        break;
      case 'vertex.error':
        if (row) Object.assign(row, { state: 'error', end: e.time });
        break;
    }
  };
  return {
    sink,
    stop() {
      clearInterval(timer);
      draw();
    },
  };
}
