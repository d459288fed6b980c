// Peak RSS of one child process: its VmHWM (the kernel's high-water mark of resident memory),
// polled while it lives; `timeline` (debug) gets "ms:RSS/anon/file" in MiB at each poll. (Bun's resourceUsage() reports the maximum over all children so far,
// not this child's own.) The last poll before exit is at most `everyMs` old.
import { readFileSync } from 'node:fs';

export function watchPeakRss(pid: number, everyMs = 25, timeline?: string[]): () => number {
  let peak = 0;
  const t0 = performance.now();
  const poll = () => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      const m = status.match(/^VmHWM:\s+(\d+) kB/m);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
      if (timeline) {
        const kb = (k: string) => Math.round(Number(status.match(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) / 1024);
        timeline.push(`${(performance.now() - t0).toFixed(0)}:${kb('VmRSS')}/${kb('RssAnon')}/${kb('RssFile')}`);
      }
    } catch {
      // exited between polls
    }
  };
  poll();
  const timer = setInterval(poll, everyMs);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
