import { expect, test } from 'bun:test';
import { elfInterpreter, lazyReadPlan, MIN_ROUND_TRIPS, physicalLimit, regularFileIn, type WorkloadRecord } from '../../bench/limit.ts';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEstargz, bytesSource, openEstargz } from '../../plugins/snapshotter-stargz/estargz/index.ts';
import { layerTar, noise } from '../plugins/snapshotter-stargz/helpers.ts';

const CHUNK = 64 << 10;

async function layer(specs: Parameters<typeof layerTar>[0]) {
  const built = await buildEstargz(layerTar(specs), { chunkSize: CHUNK });
  const blob = built.blob!;
  return { reader: await openEstargz(bytesSource(blob), { layerDigest: 'sha256:' + '0'.repeat(64) }), size: blob.length };
}

test('lazyReadPlan counts the compressed chunks holding the read ranges, the topmost copy of each file, and every TOC', async () => {
  const lower = await layer([
    { name: 'usr/', type: 'dir' },
    { name: 'usr/bin/', type: 'dir' },
    { name: 'usr/bin/tool', data: noise(5 * CHUNK, 7) },
    { name: 'etc/', type: 'dir' },
    { name: 'etc/conf', data: noise(3 * CHUNK, 8) },
  ]);
  const upper = await layer([
    { name: 'etc/', type: 'dir' },
    { name: 'etc/conf', data: 'small override\n' },
    { name: 'etc/link', type: 'symlink', linkname: 'conf' },
  ]);
  const record: WorkloadRecord = {
    files: ['usr/bin/tool', 'etc/conf', 'etc/link', 'not/there'],
    readBytes: 0,
    fileBytes: 0,
    // Two ranges in chunk 0, one crossing chunks 2 and 3; the override read whole.
    ranges: { 'usr/bin/tool': [[0, 4096], [8192, 12288], [3 * CHUNK - 100, 3 * CHUNK + 100]], 'etc/conf': [[0, 15]] },
  };
  const plan = lazyReadPlan(record, [lower, upper], 1234);
  const tool = lower.reader.lookup('usr/bin/tool')!;
  const span = (i: number) => tool.chunks[i].compressedEnd - tool.chunks[i].offset;
  const conf = upper.reader.lookup('etc/conf')!.chunks[0];
  expect(plan.chunks).toBe(4);
  expect(plan.chunkBytes).toBe(span(0) + span(2) + span(3) + (conf.compressedEnd - conf.offset));
  // Incompressible data: each chunk of the tool costs about its size compressed, the lower
  // layer's 3-chunk etc/conf (hidden by the override) costs nothing.
  expect(plan.chunkBytes).toBeGreaterThan(3 * CHUNK);
  expect(plan.chunkBytes).toBeLessThan(3 * CHUNK + 4096);
  expect(plan.tocBytes).toBe(lower.size - lower.reader.tocOffset + (upper.size - upper.reader.tocOffset));
  expect(plan.tocBytes).toBeGreaterThan(0);
  expect(plan.metaBytes).toBe(1234);
  expect(plan.layers).toBe(2);
  expect(plan.missing).toEqual(['etc/link', 'not/there']);

  const l = physicalLimit({ ...record, readBytes: 20_000 }, plan, 0.5, { rttMs: 20, rateBps: 80e6 });
  expect(l.fetchBytes).toBe(plan.chunkBytes + plan.tocBytes + 1234);
  expect(l.transferS).toBeCloseTo((l.fetchBytes * 8) / 80e6, 9);
  expect(l.roundTrips).toBe(MIN_ROUND_TRIPS);
  expect(l.rttS).toBeCloseTo(MIN_ROUND_TRIPS * 0.02, 9);
  expect(l.limitS).toBeCloseTo(l.transferS + l.rttS + 0.5, 9);
  expect(l.readBytes).toBe(20_000);
});

test('a recorded path names the file as the image has it: every symlink on the way resolved inside the rootfs', () => {
  const root = mkdtempSync(join(tmpdir(), 'eb-limit-root-'));
  try {
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    symlinkSync('usr/bin', join(root, 'bin')); // merged /usr
    writeFileSync(join(root, 'usr/bin/dash'), 'sh!');
    symlinkSync('dash', join(root, 'usr/bin/sh'));
    symlinkSync('/../../../../etc', join(root, 'usr/bin/up')); // absolute: stays in the rootfs
    expect(regularFileIn(root, '/bin/sh')).toEqual({ path: 'usr/bin/dash', size: 3 });
    expect(regularFileIn(root, 'bin/dash')).toEqual({ path: 'usr/bin/dash', size: 3 });
    expect(regularFileIn(root, '/usr/bin/up/passwd')).toBeUndefined();
    expect(regularFileIn(root, '/bin')).toBeUndefined();
    expect(regularFileIn(root, '/nope/x')).toBeUndefined();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('elfInterpreter names the program interpreter a dynamically linked executable asks the kernel for', () => {
  const dir = mkdtempSync(join(tmpdir(), 'eb-limit-elf-'));
  try {
    // A real executable of this host (dynamically linked: Debian's coreutils) and its interpreter.
    const interp = elfInterpreter('/bin/ls');
    expect(interp).toMatch(/^\/lib.*\/ld-linux.*\.so\.\d$/);
    expect(elfInterpreter(realpathSync(interp!))).toBeUndefined(); // ld.so itself has none
    writeFileSync(join(dir, 'script'), '#!/bin/sh\necho hi\n');
    expect(elfInterpreter(join(dir, 'script'))).toBeUndefined();
    writeFileSync(join(dir, 'short'), '\x7fELF');
    expect(elfInterpreter(join(dir, 'short'))).toBeUndefined();
    expect(elfInterpreter(join(dir, 'missing'))).toBeUndefined();
    // A truncated copy of the executable: its program headers are cut off.
    writeFileSync(join(dir, 'cut'), readFileSync('/bin/ls').subarray(0, 80));
    expect(elfInterpreter(join(dir, 'cut'))).toBeUndefined();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
