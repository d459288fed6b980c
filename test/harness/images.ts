// Test base images: bench/images/layout.ts with the tests' cache dir (<TEST_CACHE>/images/…).
import { baseImage, baseImageDir, type BaseImageName } from '../../bench/images/layout.ts';
import { existsSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { tmpdir } from 'node:os';
import { randomBytes } from 'node:crypto';
import { TEST_CACHE } from './rootfs.ts';
import { edgebuild } from './edgebuild.ts';

export type { Descriptor } from '../../bench/images/layout.ts';
export type TestImageName = BaseImageName;

export function testImageDir(name: TestImageName): string {
  return baseImageDir(TEST_CACHE, name);
}

/** The OCI image layout dir of a test image, built on first use. */
export function testImage(name: TestImageName): Promise<string> {
  return baseImage(TEST_CACHE, name);
}

/** A test image converted to eStargz (`edgebuild convert --estargz`) once, kept in the test cache
 *  next to its source. */
export async function estargzTestImage(name: TestImageName): Promise<string> {
  const src = await testImage(name);
  const dest = join(TEST_CACHE, 'images', `${basename(src)}-esgz`);
  if (existsSync(join(dest, 'index.json'))) return dest;
  const tmp = `${dest}.tmp-${randomBytes(4).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), 'eb-esgz-convert-'));
  try {
    const r = await edgebuild(['--root', root, 'convert', '--estargz', '--oci', `oci:${src}:latest`, `oci:${tmp}:latest`]);
    if (r.code !== 0) throw new Error(`convert failed: ${r.err}`);
    try {
      renameSync(tmp, dest);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another run made it meanwhile
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return dest;
}

if (import.meta.main) {
  for (const name of (process.argv.slice(2).length ? process.argv.slice(2) : ['debian-base', 'golang', 'python']) as TestImageName[]) {
    const t0 = Date.now();
    const dir = await testImage(name);
    console.log(`${name}: ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}
