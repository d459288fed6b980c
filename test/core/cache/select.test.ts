// Which steps a cache export carries: mode=max every step, mode=min (and inline) only those whose
// layer chain the final result starts with.
import { describe, expect, test } from 'bun:test';
import { inlineCache, selectSteps } from '../../../core/cache/export.ts';
import type { SolvedStep } from '../../../core/solver/solver.ts';
import type { LayerRecord } from '../../../core/solver/worker.ts';

const base: LayerRecord = { snapshot: 'layer/b', existing: { descriptor: { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: 'sha256:' + 'b'.repeat(64), size: 1 }, repository: 'r/x', imageRef: 'r/x:1' }, diffID: 'sha256:' + 'd'.repeat(64) };
const l = (s: string): LayerRecord => ({ snapshot: s });
const key = (c: string) => 'sha256:' + c.repeat(64);
// dev stage: base → copy → run; final stage (scratch): copy --from=dev
const steps: SolvedStep[] = [
  { key: key('1'), layers: [base, l('cache/copy')], description: '[dev 2/3] COPY' },
  { key: key('2'), layers: [base, l('cache/copy'), l('cache/run')], description: '[dev 3/3] RUN' },
  { key: key('3'), layers: [l('cache/final')], description: '[stage-1 1/1] COPY --from=dev' },
  { key: key('3'), layers: [l('cache/final')], description: 'same key twice' },
];

describe('selectSteps', () => {
  test('max takes every keyed step once', () => {
    expect(selectSteps(steps, [l('cache/final')], 'max').map((s) => s.key)).toEqual([key('1'), key('2'), key('3')]);
  });
  test('min takes the steps on the final chain', () => {
    expect(selectSteps(steps, [l('cache/final')], 'min').map((s) => s.key)).toEqual([key('3')]);
    expect(selectSteps(steps, [base, l('cache/copy'), l('cache/run')], 'min').map((s) => s.key)).toEqual([key('1'), key('2')]);
  });
  test('inline records the number of image layers per key', () => {
    expect(inlineCache(steps, [base, l('cache/copy'), l('cache/run')])).toEqual({ records: [{ key: key('1'), layers: 2 }, { key: key('2'), layers: 3 }] });
  });
});
