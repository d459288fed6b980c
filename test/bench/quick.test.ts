// `edgebuild bench --quick` end to end: python image built from Debian (cached with the other
// test images), its own registry on loopback, one cold run per variant that works here.
import { afterAll, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';
import { TEST_CACHE } from '../harness/rootfs.ts';
import { removeTempDirs, tempDir } from '../harness/temp-dir.ts';

afterAll(removeTempDirs);

const FIGURES = ['pull_s', 'create_s', 'run_s', 'total_s', 'bytes_fetched', 'requests', 'peak_rss_bytes'];

test('[slow] bench --quick writes a report with positive figures for python', async () => {
  const dir = tempDir('bench-quick-');
  const json = join(dir, 'report.json');
  const svg = join(dir, 'chart.svg');
  const html = join(dir, 'page.html');
  const r = await edgebuild(['--root', join(dir, 'root'), 'bench', '--quick', '--cache-dir', TEST_CACHE, '--json', json, '--svg', svg, '--html', html]);
  if (r.code !== 0) throw new Error(`bench --quick exited ${r.code}:\n${r.err.slice(-3000)}`);
  // The table goes to stdout, the shaping check to stderr.
  expect(r.out).toMatch(/^workload\s+variant\s+pull\s+create\s+run\s+total/m);
  expect(r.err).toMatch(/measured RTT [\d.]+ ms/);

  const report = JSON.parse(readFileSync(json, 'utf8'));
  expect(report.runs_per_variant).toBe(1);
  expect(report.network.profile).toBe('loopback');
  expect(report.network.measured.rate_bps).toBeGreaterThan(0);
  const legacy = report.results.find((x: { variant: string }) => x.variant === 'legacy');
  expect(legacy).toBeDefined();
  for (const res of report.results) {
    expect(res.workload).toBe('python');
    expect(res.error).toBeUndefined();
    expect(res.runs).toHaveLength(1);
    for (const k of FIGURES) {
      expect(typeof res.median[k]).toBe('number');
      // create and pull of a lazy variant can be tiny, but nothing is free or negative.
      expect(res.median[k]).toBeGreaterThan(0);
      expect(res.runs[0][k]).toBe(res.median[k]);
    }
    expect(res.median.total_s).toBeGreaterThanOrEqual(res.median.pull_s + res.median.create_s + res.median.run_s);
  }
  // A full pull fetches at least every layer of the image.
  expect(legacy.median.bytes_fetched).toBeGreaterThanOrEqual(legacy.layer_bytes);
  expect(legacy.median.pulled_layers).toBeGreaterThan(0);
  const limit = report.limit.python;
  expect(limit.seconds).toBeGreaterThan(0);
  expect(limit.read_bytes).toBeGreaterThan(1_000_000); // python3.11 alone is several MB
  expect(limit.seconds).toBeLessThan(legacy.median.total_s);
  // The limit's decomposition: compressed chunks holding what was read + every TOC + manifest/config.
  expect(limit.chunks).toBeGreaterThan(0);
  expect(limit.chunk_bytes).toBeGreaterThan(0);
  expect(limit.toc_bytes).toBeGreaterThan(0);
  expect(limit.layers).toBeGreaterThanOrEqual(1);
  expect(limit.fetch_bytes).toBe(limit.chunk_bytes + limit.toc_bytes + limit.meta_bytes);
  expect(limit.seconds).toBeCloseTo(limit.transfer_s + limit.rtt_s + limit.compute_s, 6);
  expect(r.out).toMatch(/^limit python: [\d.]+ s = [\d.]+ s transfer \+ [\d.]+ s round trips \+ [\d.]+ s compute/m);

  const chart = readFileSync(svg, 'utf8');
  expect(chart.startsWith('<svg')).toBe(true);
  expect(chart).toContain('>python<');
  expect(readFileSync(html, 'utf8')).toContain('<svg');
  // Nothing left behind: no mounts, and the images live in the cache dir, not the root.
  expect(await mountsUnder(dir)).toEqual([]);
  expect(existsSync(join(dir, 'root', 'bench'))).toBe(false);
}, 600_000);
