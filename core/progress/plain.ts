// BuildKit's plain progress, line for line: `#N name`, `#N 0.253 log line`, `#N DONE 1.2s`,
// `#N CACHED`, `#N ERROR: …`. Scripts parse this shape, so it stays exact.
import type { ProgressEvent, ProgressSink } from './events.ts';

export function plainRenderer(write: (text: string) => void): ProgressSink {
  const numbers = new Map<string, number>();
  const started = new Map<string, number>();
  const partial = new Map<string, string>();
  let last: string | undefined;
  const num = (id: string) => {
    let n = numbers.get(id);
    if (n === undefined) numbers.set(id, (n = numbers.size + 1));
    return n;
  };
  const header = (id: string, name?: string) => {
    if (last !== id && last !== undefined) write('\n');
    if (name !== undefined && last !== id) write(`#${num(id)} ${name}\n`);
    last = id;
  };
  const names = new Map<string, string>();
  const ensureHeader = (id: string) => {
    if (last !== id) header(id, names.get(id));
  };
  const flushLines = (id: string, text: string) => {
    const t0 = started.get(id) ?? Date.now();
    const buf = (partial.get(id) ?? '') + text;
    const lines = buf.split('\n');
    partial.set(id, lines.pop() ?? '');
    for (const line of lines) write(`#${num(id)} ${((Date.now() - t0) / 1000).toFixed(3)} ${line}\n`);
  };
  return (e: ProgressEvent) => {
    switch (e.type) {
      case 'vertex.started':
        names.set(e.id, e.name);
        started.set(e.id, e.time);
        header(e.id, e.name);
        break;
      case 'vertex.cached':
        names.set(e.id, e.name);
        header(e.id, e.name);
        write(`#${num(e.id)} CACHED\n`);
        break;
      case 'vertex.log':
        ensureHeader(e.id);
        flushLines(e.id, e.data);
        break;
      case 'vertex.status':
        ensureHeader(e.id);
        write(`#${num(e.id)} ${e.status}${e.total ? ` ${formatBytes(e.current ?? 0)} / ${formatBytes(e.total)}` : ''}\n`);
        break;
      case 'vertex.completed': {
        ensureHeader(e.id);
        if (partial.get(e.id)) flushLines(e.id, '\n');
        write(`#${num(e.id)} DONE ${((e.time - (started.get(e.id) ?? e.time)) / 1000).toFixed(1)}s\n`);
        break;
      }
      case 'vertex.error':
        ensureHeader(e.id);
        if (partial.get(e.id)) flushLines(e.id, '\n');
        write(`#${num(e.id)} ERROR: ${e.error}\n`);
        break;
    }
  };
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n}B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(v < 10 ? 2 : 1)}${units[i]}`;
}
