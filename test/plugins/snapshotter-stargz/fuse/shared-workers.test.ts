// Handler workers are shared by every mount of the process (fuse/mount.ts): a mount attaches to
// them and detaches at unmount, after which nothing is written to its fd.
import { describe, expect, test } from "bun:test";
import { mkdirSync, openSync, closeSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { endSpareThreads, handlerWorkerCount, mountFuse, spareReaderCount, warmFuseThreads } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import { MEMFS_MODULE, SAMPLE, removeDir, sh, tempDir } from "./harness.ts";
import type { MemFsInit, SpecEntry } from "./memfs.ts";

const isRoot = process.getuid?.() === 0;

const OTHER: SpecEntry[] = [
  { path: "/only-here", type: "file", content: { kind: "text", text: "second mount\n" } },
];

async function mountAt(dir: string, name: string, entries: SpecEntry[], workers: number, errors: string[]) {
  const mnt = join(dir, name);
  mkdirSync(mnt);
  const init: MemFsInit = { entries };
  return mountFuse({ mountpoint: mnt, fsModule: MEMFS_MODULE, fsInit: init, workers, onError: (e) => errors.push(e) });
}

describe.skipIf(!isRoot)("FUSE handler workers shared by mounts", () => {
  test("[slow] two mounts share one worker; each serves its own tree; the worker ends with the last mount", async () => {
    const dir = tempDir("shared");
    const errors: string[] = [];
    expect(handlerWorkerCount()).toBe(0);
    const a = await mountAt(dir, "a", SAMPLE, 1, errors);
    const b = await mountAt(dir, "b", OTHER, 1, errors);
    try {
      expect(handlerWorkerCount()).toBe(1);
      expect((await sh(`cat '${a.mountpoint}/etc/hostname' '${b.mountpoint}/only-here'`)).stdout).toBe("edgebuild\nsecond mount\n");
      expect((await sh(`ls '${b.mountpoint}'`)).stdout).toBe("only-here\n");
      // A third mount asking for two workers grows the pool to two.
      const c = await mountAt(dir, "c", OTHER, 2, errors);
      expect(handlerWorkerCount()).toBe(2);
      await c.unmount();
      await a.unmount();
      // b still served after the others detached from the worker it shares.
      expect((await sh(`cat '${b.mountpoint}/only-here'`)).stdout).toBe("second mount\n");
    } finally {
      await a.unmount();
      await b.unmount();
      removeDir(dir);
    }
    expect(handlerWorkerCount()).toBe(0);
    expect(errors).toEqual([]);
  });

  test("[slow] a read still running at unmount writes nothing once the mount's fd is closed and reused", async () => {
    const dir = tempDir("detach");
    const errors: string[] = [];
    const keep = await mountAt(dir, "keep", OTHER, 1, errors); // keeps the worker alive past the unmount
    const m = await mountAt(dir, "slow", SAMPLE, 1, errors);
    const victim = join(dir, "victim");
    try {
      // data/slow answers after 2 s; unmount while it is pending (the abort ends the reader).
      const reading = sh(`cat '${m.mountpoint}/data/slow'`);
      await Bun.sleep(200);
      await m.unmount();
      // The freed fd number goes to the next file opened: a late reply would land in it.
      const fd = openSync(victim, "w+");
      try {
        await reading;
        await Bun.sleep(2500);
        expect(readFileSync(victim).byteLength).toBe(0);
      } finally {
        closeSync(fd);
      }
      expect((await sh(`cat '${keep.mountpoint}/only-here'`)).stdout).toBe("second mount\n");
    } finally {
      await m.unmount();
      await keep.unmount();
      rmSync(victim, { force: true });
      removeDir(dir);
    }
    expect(handlerWorkerCount()).toBe(0);
  });

  test("[slow] threads warmed ahead are taken by the next mounts; those left over end with endSpareThreads()", async () => {
    const dir = tempDir("warm");
    const errors: string[] = [];
    warmFuseThreads({ fsModule: MEMFS_MODULE, workers: 1, readers: 2 });
    expect(handlerWorkerCount()).toBe(1);
    expect(spareReaderCount()).toBe(2);
    warmFuseThreads({ fsModule: MEMFS_MODULE, workers: 1, readers: 2 }); // already there: nothing more
    expect(handlerWorkerCount()).toBe(1);
    expect(spareReaderCount()).toBe(2);
    const a = await mountAt(dir, "a", SAMPLE, 1, errors);
    try {
      expect(spareReaderCount()).toBe(1); // a took one
      expect(handlerWorkerCount()).toBe(1); // and attached to the warmed worker
      expect((await sh(`cat '${a.mountpoint}/etc/hostname'`)).stdout).toBe("edgebuild\n");
      endSpareThreads(); // the spare reader goes; the worker serves a mount: it stays
      expect(spareReaderCount()).toBe(0);
      expect(handlerWorkerCount()).toBe(1);
      expect((await sh(`cat '${a.mountpoint}/etc/hostname'`)).stdout).toBe("edgebuild\n");
    } finally {
      await a.unmount();
      removeDir(dir);
    }
    expect(handlerWorkerCount()).toBe(0);
    // Warmed and never used: ended by endSpareThreads().
    warmFuseThreads({ fsModule: MEMFS_MODULE, workers: 2, readers: 1 });
    expect(handlerWorkerCount()).toBe(2);
    endSpareThreads();
    expect(handlerWorkerCount()).toBe(0);
    expect(spareReaderCount()).toBe(0);
    expect(errors).toEqual([]);
  });
});
