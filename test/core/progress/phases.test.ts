// Phase marks (core/progress/phases.ts) and how bench turns them into seconds per run and medians.
import { expect, test } from 'bun:test';
import { formatPhases, phase, phaseMarks, processOrigin } from '../../../core/progress/phases.ts';
import { phaseSeconds, type RunFigures } from '../../../bench/cold-run.ts';
import { summarize } from '../../../bench/report/model.ts';

test('a mark keeps its first and last time and how often it was made', async () => {
  phase('test-a');
  await Bun.sleep(5);
  phase('test-b');
  phase('test-a');
  const m = phaseMarks();
  expect(m['test-a'].count).toBe(2);
  expect(m['test-a'].last - m['test-a'].first).toBeGreaterThanOrEqual(4);
  expect(m['test-b']).toMatchObject({ count: 1 });
  expect(m['test-b'].first).toBeGreaterThan(processOrigin());
  expect(Object.keys(m).indexOf('test-a')).toBeLessThan(Object.keys(m).indexOf('test-b'));
  expect(formatPhases().find((l) => l.endsWith('test-a') || l.includes('test-a ('))).toMatch(/^phase \d+\.\d{3}s test-a \(x2, last \d+\.\d{3}s\)$/);
});

test('bench: seconds from the spawn, NAME:last for repeated marks, medians over runs that all have the mark', () => {
  expect(phaseSeconds({ a: { first: 1500, last: 1500, count: 1 }, b: { first: 1750.4, last: 2900, count: 3 } }, 1000)).toEqual({ a: 0.5, b: 0.75, 'b:last': 1.9 });
  const run = (phases: Record<string, number>): RunFigures => ({ pull_s: 1, create_s: 1, run_s: 1, total_s: 3, bytes_fetched: 0, requests: 0, peak_rss_bytes: 0, lazy_layers: 2, pulled_layers: 0, phases });
  const s = summarize([run({ a: 1, b: 2 }), run({ a: 3, b: 4, c: 9 }), run({ a: 2, b: 9 })]);
  expect(s.median.phases).toEqual({ a: 2, b: 4 });
  expect(s.min.phases).toEqual({ a: 1, b: 2 });
  expect(summarize([run({ a: 1 }), { ...run({}), phases: undefined }]).median.phases).toBeUndefined();
});
