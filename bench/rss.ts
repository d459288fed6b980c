// Peak RSS of one child process: its VmHWM (the kernel's high-water mark of resident memory),
// polled while it lives. (Bun's resourceUsage() reports the maximum over all children so far,
// not this child's own.) The last poll before exit is at most `everyMs` old.
import { readFileSync } from 'node:fs';

export function watchPeakRss(pid: number, everyMs = 25): () => number {
  let peak = 0;
  const poll = () => {
    try {
      const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB/m);
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
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
