// Seeded fuzzing of every parser that reads untrusted bytes. The CI budget (default counts) runs
// in well under two minutes; EDGEBUILD_FUZZ_ITERATIONS=100000 (and EDGEBUILD_FUZZ_SEED) run a
// longer session by hand. Per-target figures are printed at the end.
import { afterAll, describe, expect, test } from 'bun:test';
import { runTarget, FUZZ_SEED, type FuzzReport } from './engine.ts';
import { configTarget, dockerfileTarget, dockerignoreTarget, estargzSeeds, footerTarget, fuseTarget, manifestTarget, openEstargzTarget, referenceTarget, tarTarget, tocTarget } from './targets.ts';

const reports: FuzzReport[] = [];
afterAll(() => {
  console.log(`fuzz (seed ${FUZZ_SEED}):\n${reports.map((r) => `  ${r.name}: ${r.executed} inputs (${r.accepted} accepted, ${r.rejected} rejected clearly)`).join('\n')}`);
});

const LONG = 600_000;

describe('fuzz', () => {
  test('[slow] Dockerfile parser and frontend: only FrontendError (file:line)', async () => {
    reports.push(await runTarget(dockerfileTarget));
  }, LONG);
  test('[slow] .dockerignore matcher: never throws, deterministic', async () => {
    const r = await runTarget(dockerignoreTarget);
    reports.push(r);
  }, LONG);
  test('[slow] reference parser: ReferenceError naming the input; accepted references round-trip', async () => {
    const r = await runTarget(referenceTarget);
    reports.push(r);
    expect(r.accepted).toBeGreaterThan(0);
    expect(r.rejected).toBeGreaterThan(0);
  }, LONG);
  test('[slow] manifest and index schemas: only ImageFormatError naming the manifest', async () => {
    reports.push(await runTarget(manifestTarget));
  }, LONG);
  test('[slow] image config schema: only ImageFormatError naming the digest', async () => {
    reports.push(await runTarget(configTarget));
  }, LONG);
  test('[slow] tar reader: only "tar entry …" errors, always terminates', async () => {
    const r = await runTarget(tarTarget);
    reports.push(r);
    expect(r.rejected).toBeGreaterThan(0);
  }, LONG);
  test('[slow] eStargz TOC parser: only EstargzError naming the layer', async () => {
    reports.push(await runTarget(tocTarget(await estargzSeeds())));
  }, LONG);
  test('[slow] eStargz footers: problems reported as values, never thrown', async () => {
    reports.push(await runTarget(footerTarget));
  }, LONG);
  test('[slow] openEstargz on damaged blobs: only EstargzError', async () => {
    reports.push(await runTarget(openEstargzTarget(await estargzSeeds())));
  }, LONG);
  test('[slow] FUSE decoder and dispatcher: every request answered, nothing thrown', async () => {
    reports.push(await runTarget(fuseTarget()));
  }, LONG);
});
