import { expect, test } from 'bun:test';
import { parseStrace } from '../../bench/limit.ts';
import { unionSeconds } from '../../bench/run-one.ts';
import { parseRate } from '../../cli/commands/bench.ts';
import { addRatios, median, summarize, type BenchReport, type Figures } from '../../bench/report/model.ts';
import { renderSvg } from '../../bench/report/svg.ts';
import { renderTable } from '../../bench/report/table.ts';

test('parseStrace keeps image paths opened or executed after chroot, in first-seen order', () => {
  const log = [
    '10 execve("/usr/sbin/chroot", ["chroot"], 0x1 /* 3 vars */) = 0',
    '10 openat(AT_FDCWD</>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</etc/ld.so.cache>',
    '10 chroot("/tmp/x/merged") = 0',
    '10 execve("/bin/sh", ["/bin/sh"], 0x2 /* 2 vars */) = 0',
    '10 openat(AT_FDCWD</tmp/x/merged>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</tmp/x/merged/etc/ld.so.cache>',
    '11 execve("/usr/local/bin/go", ["go"], 0x3 /* 2 vars */) = -1 ENOENT (No such file or directory)',
    '11 execve("/usr/bin/go", ["go"], 0x3 /* 2 vars */ <unfinished ...>',
    '12 openat(AT_FDCWD</tmp/x/merged>, "/proc/self/maps", O_RDONLY) = 4</tmp/x/merged/proc/self/maps>',
    '12 <... openat resumed>) = 5</tmp/x/merged/usr/lib/go/pkg/fmt.a>',
    '12 openat(AT_FDCWD</tmp/x/merged>, "/nope", O_RDONLY) = -1 ENOENT (No such file or directory)',
    '10 openat(AT_FDCWD</tmp/x/merged>, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3</tmp/x/merged/etc/ld.so.cache>',
  ].join('\n');
  expect(parseStrace(log, '/merged')).toEqual(['/bin/sh', '/etc/ld.so.cache', '/usr/bin/go', '/usr/lib/go/pkg/fmt.a']);
});

test('unionSeconds merges overlapping intervals', () => {
  expect(unionSeconds([])).toBe(0);
  expect(unionSeconds([[0, 1000], [500, 1500], [2000, 2500]])).toBeCloseTo(2.0);
  expect(unionSeconds([[0, 3000], [1000, 2000]])).toBeCloseTo(3.0);
});

test('parseRate reads tc-style rates and rejects others', () => {
  expect(parseRate('100mbit')).toBe(100e6);
  expect(parseRate('1gbit')).toBe(1e9);
  expect(parseRate('20Mbit/s')).toBe(20e6);
  expect(parseRate('500000')).toBe(500000);
  expect(() => parseRate('fast')).toThrow(/--rate "fast"/);
  expect(() => parseRate('0mbit')).toThrow(/above 0/);
});

const fig = (total: number, pull = total / 2): Figures => ({ pull_s: pull, create_s: 0.1, run_s: 0.2, total_s: total, bytes_fetched: 1000, requests: 4, peak_rss_bytes: 5e7, lazy_layers: 0, pulled_layers: 1 });

function sampleReport(): BenchReport {
  const legacyRuns = [fig(3), fig(1), fig(2)];
  const lazyRuns = [fig(0.5, 0.1)];
  const report: BenchReport = {
    edgebuild: '0.0.0',
    date: '2026-01-01T00:00:00Z',
    runs_per_variant: 3,
    network: { profile: 'wan', mechanism: 'test', shaped: true, target: { rtt_ms: 20, rate_bps: 1e8 }, measured: { rtt_ms: 21, rate_bps: 9.5e7 } },
    results: [
      { workload: 'python', variant: 'legacy', kind: 'edgebuild', runs: legacyRuns, ...summarize(legacyRuns) },
      { workload: 'python', variant: 'estargz', kind: 'edgebuild', runs: lazyRuns, ...summarize(lazyRuns) },
      { workload: 'python', variant: 'buildah', kind: 'peer', runs: [], ...summarize([]), error: 'buildah <missing> & gone' },
    ],
    limit: { python: { seconds: 0.25, read_bytes: 10e6, files: 18, fetch_bytes: 2e6, chunk_bytes: 1.9e6, chunks: 7, toc_bytes: 99e3, meta_bytes: 1e3, layers: 2, transfer_s: 0.12, round_trips: 4, rtt_s: 0.08, compute_s: 0.05 } },
  };
  addRatios(report);
  return report;
}

test('summaries take medians with min–max, ratios relate to legacy and the limit', () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 2, 3])).toBe(2.5);
  const r = sampleReport();
  const [legacy, lazy] = r.results;
  expect(legacy.median.total_s).toBe(2);
  expect(legacy.min.total_s).toBe(1);
  expect(legacy.max.total_s).toBe(3);
  expect(lazy.ratio_to_legacy).toBeCloseTo(0.25);
  expect(lazy.ratio_to_limit).toBeCloseTo(2);
  expect(r.results[2].ratio_to_legacy).toBeUndefined();
});

test('chart stacks pull/create/run/other per variant and escapes error text', () => {
  const svg = renderSvg(sampleReport());
  expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
  // legacy median: pull 1, create 0.1, run 0.2, other 0.7 → four segments; estargz: four more.
  expect(svg.match(/<rect x="[\d.]+" y="\d+" width="[\d.]+" height="18"/g)?.length).toBe(8);
  expect(svg).toContain('buildah &lt;missing&gt; &amp; gone');
  expect(svg).toContain('physical limit 0.25 s');
  const table = renderTable(sampleReport()).join('\n');
  expect(table).toMatch(/python\s+estargz\s+0\.10\s+0\.10\s+0\.20\s+0\.50 \(0\.50–0\.50\)\s+2\.00×\s+0\.25×/);
  expect(table).toContain('error: buildah <missing> & gone');
  expect(table).toContain('limit python: 0.25 s = 0.12 s transfer + 0.08 s round trips + 0.05 s compute');
  expect(table).toMatch(/transfer: 1\.9 MiB ÷ 95\.0 Mbit\/s; bytes: 1\.8 MiB in 7 chunks holding the 9\.5 MiB read from 18 files \+ 97 KiB footers\+TOCs of 2 layers/);
  expect(table).toContain('4 × 21.0 ms');
});
