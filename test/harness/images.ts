// Test base images: bench/images/layout.ts with the tests' cache dir (<TEST_CACHE>/images/…).
import { baseImage, baseImageDir, type BaseImageName } from '../../bench/images/layout.ts';
import { TEST_CACHE } from './rootfs.ts';

export type { Descriptor } from '../../bench/images/layout.ts';
export type TestImageName = BaseImageName;

export function testImageDir(name: TestImageName): string {
  return baseImageDir(TEST_CACHE, name);
}

/** The OCI image layout dir of a test image, built on first use. */
export function testImage(name: TestImageName): Promise<string> {
  return baseImage(TEST_CACHE, name);
}

if (import.meta.main) {
  for (const name of (process.argv.slice(2).length ? process.argv.slice(2) : ['debian-base', 'golang', 'python']) as TestImageName[]) {
    const t0 = Date.now();
    const dir = await testImage(name);
    console.log(`${name}: ${dir} in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  }
}
