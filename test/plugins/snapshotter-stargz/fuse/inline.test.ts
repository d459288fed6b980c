// The reader thread answers what needs no waiting itself (createInlineFs); the workers get the rest.
import { describe, expect, test } from "bun:test";
import { SAMPLE, sh, withMount } from "./harness.ts";
import type { MemFsInit } from "./memfs.ts";
import { MEMFS_MODULE } from "./harness.ts";

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("FUSE reader thread answering inline", () => {
  test("[slow] local reads are answered by the reader thread, slow ones by a worker, and both are exact", async () => {
    const served = new SharedArrayBuffer(8);
    const count = new Int32Array(served);
    const init: MemFsInit = { entries: SAMPLE, served };
    await withMount(SAMPLE, async (m, mnt) => {
      expect(m.inline).toBe(true);
      expect((await sh(`cat '${mnt}/etc/hostname' '${mnt}/bin/hard'`)).stdout).toBe("edgebuild\nbusybox");
      expect(Atomics.load(count, 0)).toBeGreaterThanOrEqual(2);
      expect(Atomics.load(count, 1)).toBe(0);
      expect((await sh(`cat '${mnt}/data/slow'`)).stdout).toBe("slow data\n");
      expect(Atomics.load(count, 1)).toBe(1);
      expect(m.stats().errors).toBe(0);
    }, { fsInit: init, fsModule: MEMFS_MODULE });
  });

  test("[slow] an fs module without an inline instance is served by the workers alone", async () => {
    const served = new SharedArrayBuffer(8);
    const count = new Int32Array(served);
    const init: MemFsInit = { entries: SAMPLE, served, inline: false };
    await withMount(SAMPLE, async (m, mnt) => {
      expect(m.inline).toBe(false);
      expect((await sh(`cat '${mnt}/etc/hostname'`)).stdout).toBe("edgebuild\n");
      expect(Atomics.load(count, 0)).toBe(0);
      expect(Atomics.load(count, 1)).toBe(1);
    }, { fsInit: init, fsModule: MEMFS_MODULE });
  });
});

describe.skipIf(!isRoot)("FUSE zero-message open", () => {
  const many = [
    { path: "/d", type: "dir" as const },
    ...Array.from({ length: 20 }, (_, i) => ({ path: `/d/f${i}`, type: "file" as const, content: { kind: "text" as const, text: `file ${i}\n` } })),
  ];
  const catAll = async (zeroMessageOpen: boolean) =>
    withMount(many, async (m, mnt) => {
      const before = m.stats().requests; // priming (zero-message open) already happened at mount
      const out = await sh(`cat '${mnt}'/d/f*`);
      expect(out.stdout.split("\n").filter(Boolean)).toHaveLength(20);
      return m.stats().requests - before;
    }, { options: { zeroMessageOpen } });

  test("[slow] files open without OPEN/RELEASE round trips, and the bytes are the same", async () => {
    const withOpen = await catAll(false);
    const without = await catAll(true);
    // OPEN + RELEASE per file (FLUSH is off in both: NOFLUSH, or ENOSYS at the priming open).
    expect(withOpen - without).toBeGreaterThanOrEqual(40);
  });
});
