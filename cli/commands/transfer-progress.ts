// Renders blob transfer progress: redrawn bars with bytes and rate on a TTY, one plain line per
// finished blob otherwise.
import { shortDigest } from '../../core/content/digest.ts';

export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = n;
  while (x >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${i === 0 ? x : x.toFixed(1)} ${units[i]}`;
}

interface Row {
  digest: string;
  done: number;
  total: number;
  state: 'waiting' | 'downloading' | 'done' | 'exists';
  started: number;
}

export class TransferProgress {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private lastDraw = 0;

  constructor(
    private readonly err: (line: string) => void,
    private readonly tty: boolean,
  ) {}

  add(digest: string, total: number): void {
    if (!this.rows.has(digest)) this.rows.set(digest, { digest, done: 0, total, state: 'waiting', started: Date.now() });
  }

  update(digest: string, done: number, total: number, state: 'downloading' | 'done' | 'exists'): void {
    let row = this.rows.get(digest);
    if (!row) {
      row = { digest, done: 0, total, state: 'waiting', started: Date.now() };
      this.rows.set(digest, row);
    }
    if (row.state === 'waiting' && state === 'downloading') row.started = Date.now();
    const finished = (state === 'done' || state === 'exists') && row.state !== 'done' && row.state !== 'exists';
    Object.assign(row, { done, total, state });
    if (this.tty) this.draw(finished);
    else if (finished) this.err(this.line(row));
  }

  private line(r: Row): string {
    const secs = Math.max(0.001, (Date.now() - r.started) / 1000);
    if (r.state === 'exists') return `${shortDigest(r.digest)}  already present (${formatBytes(r.total)})`;
    if (r.state === 'done') return `${shortDigest(r.digest)}  done ${formatBytes(r.total)} in ${secs.toFixed(1)}s`;
    if (r.state === 'waiting') return `${shortDigest(r.digest)}  waiting`;
    const width = 24;
    const frac = r.total > 0 ? Math.min(1, r.done / r.total) : 0;
    const fill = Math.round(frac * width);
    const bar = '='.repeat(Math.max(0, fill - 1)) + (fill > 0 ? '>' : '') + ' '.repeat(width - fill);
    return `${shortDigest(r.digest)}  [${bar}] ${formatBytes(r.done)} / ${formatBytes(r.total)}  ${formatBytes(r.done / secs)}/s`;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const lines = [...this.rows.values()].map((r) => `\x1b[2K${this.line(r)}`);
    if (this.drawn > 0 && lines.length > 0) lines[0] = `\x1b[${this.drawn}A` + lines[0];
    for (const l of lines) this.err(l);
    this.drawn = lines.length;
  }

  finish(): void {
    if (this.tty) this.draw(true);
  }
}
