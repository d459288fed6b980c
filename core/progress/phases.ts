// Phase marks of one process, exec to exit: where a build's wall time goes outside the work
// itself (start-up, plugins, registry round trips, mounts, container start, export, close).
// A mark costs one clock read; `edgebuild bench` reads them from its cold runs, and
// EDGEBUILD_PHASES=1 prints them to stderr when the process ends.

export interface PhaseMark {
  /** Wall clock (ms since the epoch, sub-ms precision) of the first and last mark of this name. */
  first: number;
  last: number;
  count: number;
}

const marks = new Map<string, PhaseMark>();

const now = () => performance.timeOrigin + performance.now();

/** Marks that `name` happened now (kept: first and last time, and how often). */
export function phase(name: string): void {
  const t = now();
  const m = marks.get(name);
  if (m) {
    m.last = t;
    m.count++;
  } else marks.set(name, { first: t, last: t, count: 1 });
}

/** Every mark so far, in the order first seen. */
export function phaseMarks(): Record<string, PhaseMark> {
  return Object.fromEntries([...marks].map(([k, m]) => [k, { ...m }]));
}

/** The process's start on the same clock (Bun/Node's time origin). */
export function processOrigin(): number {
  return performance.timeOrigin;
}

/** One line per mark: seconds since the process started (first, and last when repeated). */
export function formatPhases(origin = processOrigin()): string[] {
  return [...marks].map(([name, m]) => {
    const s = (t: number) => ((t - origin) / 1000).toFixed(3);
    return `phase ${s(m.first)}s ${name}${m.count > 1 ? ` (x${m.count}, last ${s(m.last)}s)` : ''}`;
  });
}
