// Test root filesystems: bench/images/rootfs.ts with the tests' cache dir.
import { debianRootfs as benchRootfs, ROOTFS_NAME } from '../../bench/images/rootfs.ts';

export { DEBIAN_SUITE, ROOTFS_NAME, buildOnce, debianMirror } from '../../bench/images/rootfs.ts';

export const TEST_CACHE = process.env.EDGEBUILD_TEST_CACHE ?? '/var/cache/edgebuild-test';

/** The debootstrap rootfs cached under `<TEST_CACHE>/rootfs/<name>`. */
export function debianRootfs(name = ROOTFS_NAME): Promise<string> {
  return benchRootfs(TEST_CACHE, name);
}

if (import.meta.main) {
  const t0 = Date.now();
  console.log(await debianRootfs(), `${((Date.now() - t0) / 1000).toFixed(1)}s`);
}
