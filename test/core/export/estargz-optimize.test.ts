// estargz-optimize: attribute checks, access lists per output layer, and layers written with the
// recorded files ahead of `.prefetch.landmark` (read back with our eStargz reader and the
// reference Go package's offsets).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { readFileSync } from 'node:fs';
import { parseImageAttrs } from '../../../core/export/image-attrs.ts';
import { buildImage } from '../../../core/export/image-builder.ts';
import { attachAccesses, checkEstargzOptimize } from '../../../core/build/run.ts';
import { layerAccessKey, mergeAccesses } from '../../../core/solver/solver.ts';
import type { ExportLayer } from '../../../core/export/types.ts';
import type { LayerRecord, Worker } from '../../../core/solver/worker.ts';
import { estargzCompressor } from '../../../plugins/compressor-estargz/index.ts';
import { gzipCompressor } from '../../../plugins/compressor-gzip/index.ts';
import { bytesSource, openEstargz, PREFETCH_LANDMARK, TOC_DIGEST_ANNOTATION } from '../../../plugins/snapshotter-stargz/estargz/index.ts';
import { buildChecker, goVerify } from '../../interop/estargz-check/build-checker.ts';
import { makeFixture, quiet, removeTemps, streamOf, tmp } from './fixture.ts';

let checker = '';
beforeAll(() => {
  checker = buildChecker();
});
afterAll(removeTemps);

const compressors = () => new Map([['estargz', estargzCompressor('gzip', { level: 6, chunkSize: 4 << 20, workers: 0 })], ['gzip', gzipCompressor()]]);

describe('estargz-optimize attribute', () => {
  test('needs compression=estargz; a bad value names the attribute', () => {
    expect(parseImageAttrs('oci', { compression: 'estargz', 'estargz-optimize': 'true' }, { oci: true }).estargzOptimize).toBe(true);
    expect(parseImageAttrs('oci', { compression: 'estargz' }, { oci: true }).estargzOptimize).toBe(false);
    expect(() => parseImageAttrs('oci', { 'estargz-optimize': 'true' }, { oci: true })).toThrow('exporter oci: estargz-optimize=true needs compression=estargz (got compression=gzip)');
    expect(() => parseImageAttrs('image', { compression: 'zstd', 'estargz-optimize': '' }, { oci: true })).toThrow('exporter image: estargz-optimize=true needs compression=estargz (got compression=zstd)');
    expect(() => parseImageAttrs('docker', { compression: 'estargz', 'estargz-optimize': 'yes' }, { oci: false })).toThrow('exporter docker: attribute estargz-optimize="yes": expected true or false');
  });

  test('refused before the build: on exporters without layers, and without a recording snapshotter', () => {
    const plain = { snapshotter: {}, snapshotterId: 'native' } as unknown as Worker;
    const overlay = { snapshotter: {}, snapshotterId: 'overlay' } as unknown as Worker;
    const recorder = { snapshotter: { recordAccess: () => ({ stop: async () => ({}) }) } } as unknown as Worker;
    const out = (type: string, attrs: Record<string, string>) => [{ type, attrs }];
    expect(() => checkEstargzOptimize(out('local', { dest: 'x', 'estargz-optimize': 'true' }), recorder)).toThrow('--output type=local: estargz-optimize applies only to type=image, registry, oci or docker');
    expect(() => checkEstargzOptimize(out('oci', { dest: 'x', compression: 'gzip', 'estargz-optimize': 'true' }), recorder)).toThrow('needs compression=estargz');
    expect(() => checkEstargzOptimize(out('oci', { dest: 'x', compression: 'estargz', 'estargz-optimize': 'true' }), plain)).toThrow(
      '--output type=oci: estargz-optimize=true needs the overlay or stargz snapshotter to record file accesses (this build uses native)',
    );
    expect(checkEstargzOptimize(out('oci', { dest: 'x', compression: 'estargz', 'estargz-optimize': 'true' }), recorder)).toBe(true);
    expect(checkEstargzOptimize(out('image', { compression: 'estargz', 'estargz-optimize': 'true' }), overlay)).toBe(true);
    expect(checkEstargzOptimize(out('oci', { dest: 'x', compression: 'estargz', 'estargz-optimize': 'false' }), plain)).toBe(false);
    expect(checkEstargzOptimize(out('oci', { dest: 'x', compression: 'estargz' }), plain)).toBe(false);
  });
});

describe('access lists', () => {
  test('mergeAccesses keeps first-open order without repeats', () => {
    expect(mergeAccesses(undefined, undefined)).toBeUndefined();
    expect(mergeAccesses({ a: ['x'] }, undefined)).toEqual({ a: ['x'] });
    expect(mergeAccesses({ a: ['x', 'y'] }, { a: ['z', 'x'], b: ['q'] })).toEqual({ a: ['x', 'y', 'z'], b: ['q'] });
  });

  test('each layer gets the paths opened in it: image layers by digest, built layers by snapshot; other images none', () => {
    const base = (digest: string): LayerRecord => ({ snapshot: 's', existing: { descriptor: { mediaType: 'm', digest, size: 1 }, repository: 'r', imageRef: 'i' } });
    const chain: LayerRecord[] = [base('sha256:a'), base('sha256:b'), { snapshot: 'cache/1' }, { snapshot: 'cache/2' }];
    const mk = (): ExportLayer[] => chain.map(() => ({ diffID: 'd', openTar: async () => new Response('').body! }));
    const layers = mk();
    attachAccesses(layers, chain, { 'sha256:a': ['bin/sh', 'lib/libc.so'], 'sha256:b': ['etc/conf'], 'sha256:other': ['usr/local/go/bin/go'], 'snapshot:cache/1': ['app/run'] });
    expect(layers.map((l) => l.accessed)).toEqual([['bin/sh', 'lib/libc.so'], ['etc/conf'], ['app/run'], []]);
    expect(layerAccessKey(chain[0])).toBe('sha256:a');
    expect(layerAccessKey(chain[2])).toBe('snapshot:cache/1');
    const none = mk();
    attachAccesses(none, chain, undefined);
    expect(none.map((l) => l.accessed)).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('optimized layers', () => {
  test('force-compression re-writes an eStargz-matching base layer with recorded files first; others after the landmark', async () => {
    const fx = await makeFixture({ existingLower: true });
    // The base layer is eStargz already (as a lazily pulled base is): kept without optimize.
    const esgz = await compressors().get('estargz')!.compress(streamOf(fx.tars[0]), { oci: true, tmpDir: tmp('base') });
    const esgzBytes = new Uint8Array(readFileSync(esgz.path));
    fx.input.layers[0].existing = { descriptor: { mediaType: esgz.mediaType, digest: esgz.digest, size: esgz.size, annotations: esgz.annotations }, open: async () => streamOf(esgzBytes) };
    fx.input.layers[0].openTar = async () => new Response(new Blob([esgzBytes]).stream().pipeThrough(new DecompressionStream('gzip'))).body!;
    fx.input.layers[0].accessed = ['bin/tool'];
    fx.input.layers[1].accessed = ['etc/conf', 'not/in/this/layer'];
    const img = await buildImage(fx.input, { compression: 'estargz', force: true, oci: true, estargzOptimize: true, exporter: 'oci', tmpDir: tmp('opt'), compressors: compressors() }, quiet);
    try {
      expect(img.layers.every((l) => !l.reused)).toBe(true);
      expect(img.notes[0]).toMatch(/^layer 1 \w{12} optimized \(base layer \w{12}\): 1 file\(s\) prioritized before \.prefetch\.landmark \(1 recorded\): bin\/tool$/);
      expect(img.notes[1]).toMatch(/^layer 2 \w{12} optimized \(layer of "a build step"\): 1 file\(s\) prioritized before \.prefetch\.landmark \(2 recorded\): etc\/conf$/);
      const expected = [['bin/tool'], ['etc/conf']];
      for (const [i, l] of img.layers.entries()) {
        const bytes = new Uint8Array(readFileSync(l.path!));
        const r = await openEstargz(bytesSource(bytes), { layerDigest: l.descriptor.digest, expectedTocDigest: l.descriptor.annotations![TOC_DIGEST_ANNOTATION] });
        const mark = r.landmark();
        expect(mark.kind).toBe('prefetch');
        expect(mark.prioritizedFiles).toEqual(expected[i]);
        // The reference reader agrees: recorded files sit before the landmark, the rest after it.
        const go = goVerify(checker, l.path!, l.descriptor.annotations![TOC_DIGEST_ANNOTATION]);
        const landmark = go.files[PREFETCH_LANDMARK].offset;
        for (const [name, f] of Object.entries(go.files)) {
          if (f.type !== 'reg' || name === PREFETCH_LANDMARK) continue;
          expect([name, f.offset < landmark]).toEqual([name, expected[i].includes(name)]);
        }
      }
    } finally {
      await img.dispose();
    }
  }, 60_000);

  test('without force-compression the base layer is kept and the note says it was not optimized; nothing recorded → no-prefetch landmark', async () => {
    const fx = await makeFixture({ existingLower: true });
    const img = await buildImage(fx.input, { compression: 'estargz', force: false, oci: true, estargzOptimize: true, exporter: 'oci', tmpDir: tmp('opt'), compressors: compressors() }, quiet);
    try {
      expect(img.layers[0].reused).toBe(true);
      expect(img.notes[0]).toContain('(no force-compression); not optimized (force-compression=true re-writes base layers prioritized)');
      expect(img.notes[1]).toContain('0 file(s) prioritized before .prefetch.landmark (nothing recorded for it)');
      const bytes = new Uint8Array(readFileSync(img.layers[1].path!));
      const r = await openEstargz(bytesSource(bytes), { layerDigest: img.layers[1].descriptor.digest });
      expect(r.landmark().kind).toBe('no-prefetch');
    } finally {
      await img.dispose();
    }
  }, 60_000);
});
