import { describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cleanupStaleMounts, readMountInfo } from "../../../../plugins/snapshotter-stargz/fuse/mountinfo.ts";
import type { AccessRecord } from "../../../../plugins/snapshotter-stargz/fuse/types.ts";
import { BIG_SIZE, removeDir, SAMPLE, sh, tempDir, withMount } from "./harness.ts";
import { patternBytes } from "./memfs.ts";

const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)("FUSE server over /dev/fuse", () => {
  test("[slow] stat, ls, readlink, getfattr and cat see the exact POSIX tree", async () => {
    await withMount(SAMPLE, async (m, mnt) => {
      const st = await sh(`cd '${mnt}' && stat -c '%n|%F|%a|%u|%g|%s|%h|%t:%T' etc/hostname etc/shadow bin/su bin/sh bin/busybox bin/hard tmp home/nobody dev/null dev/big dev/pipe data/empty`);
      expect(st.stderr).toBe("");
      expect(st.stdout.trim().split("\n")).toEqual([
        "etc/hostname|regular file|644|0|0|10|1|0:0",
        "etc/shadow|regular file|640|0|42|19|1|0:0",
        "bin/su|regular file|4755|0|0|10|1|0:0",
        "bin/sh|symbolic link|777|0|0|12|1|0:0", // symlink size = target length
        "bin/busybox|regular file|755|0|0|7|2|0:0",
        "bin/hard|regular file|755|0|0|7|2|0:0",
        "tmp|directory|1777|0|0|4096|2|0:0",
        "home/nobody|directory|700|65534|65534|4096|2|0:0",
        "dev/null|character special file|666|0|0|0|1|1:3",
        "dev/big|character special file|600|0|0|0|1|103:12c",
        "dev/pipe|fifo|620|0|0|0|1|0:0",
        "data/empty|regular empty file|644|0|0|0|1|0:0",
      ]);
      const times = await sh(`cd '${mnt}' && stat -c '%y' etc/hostname && stat -c '%Y' home/nobody`);
      expect(times.stdout.trim().split("\n")).toEqual(["2020-09-13 12:26:40.123456789 +0000", "946684800"]);
      const inodes = await sh(`cd '${mnt}' && stat -c '%i' bin/busybox bin/hard bin/su`);
      const [a, b, c] = inodes.stdout.trim().split("\n");
      expect(a).toBe(b); // hardlinks share one inode
      expect(a).not.toBe(c);
      expect((await sh(`readlink '${mnt}/bin/sh'`)).stdout).toBe("/bin/busybox\n");
      expect((await sh(`cat '${mnt}/etc/hostname' '${mnt}/data/space name' '${mnt}/data/ünïcødé'`)).stdout).toBe("edgebuild\nspaced\nutf8\n");
      expect((await sh(`cat '${mnt}/bin/hard'`)).stdout).toBe("busybox");
      expect((await sh(`wc -c < '${mnt}/data/empty'`)).stdout.trim()).toBe("0");

      const ls = await sh(`ls -la '${mnt}/bin'`);
      expect(ls.stdout).toMatch(/^-rwsr-xr-x 1 root root\s+10 .* su$/m);
      expect(ls.stdout).toMatch(/^lrwxrwxrwx 1 root root\s+12 .* sh -> \/bin\/busybox$/m);
      expect(ls.stdout).toMatch(/^drwxr-xr-x \d+ root root\s+4096 .* \.\.$/m);

      const xattrs = await sh(`getfattr -d -m - --absolute-names '${mnt}/data/tagged'`);
      expect(xattrs.stdout).toContain('user.mime="text/plain"');
      expect(xattrs.stdout).toContain('trusted.note="t"');
      expect(xattrs.stdout).toContain("user.empty");
      expect((await sh(`getfattr -n user.mime --only-values --absolute-names '${mnt}/data/tagged'`)).stdout).toBe("text/plain");
      const missing = await sh(`getfattr -n user.nope '${mnt}/data/tagged'`);
      expect(missing.code).not.toBe(0);
      expect(missing.stderr).toContain("No such attribute");

      const big = await sh(`sha256sum < '${mnt}/data/big.bin'`);
      const expected = createHash("sha256").update(patternBytes(0, BIG_SIZE)).digest("hex");
      expect(big.stdout.split(" ")[0]).toBe(expected);
      // An unaligned read in the middle exercises offsets.
      const mid = await sh(`dd if='${mnt}/data/big.bin' bs=1 skip=3000001 count=17 status=none | od -An -tx1 | tr -d ' \\n'`);
      expect(mid.stdout).toBe(Buffer.from(patternBytes(3_000_001, 17)).toString("hex"));

      const find = await sh(`cd '${mnt}' && find . | sort`);
      expect(find.stdout.trim().split("\n")).toEqual(
        [".", ...SAMPLE.map((e) => `.${e.path}`)].sort(),
      );
      const df = await sh(`stat -f -c '%T' '${mnt}'`);
      expect(["fuse", "fuseblk"]).toContain(df.stdout.trim());
      expect(m.stats().errors).toBe(0);
      expect(m.stats().bytesRead).toBeGreaterThanOrEqual(BIG_SIZE);
    });
  });

  test("[slow] writes fail with EROFS and unknown names with ENOENT", async () => {
    await withMount(SAMPLE, async (_m, mnt) => {
      const cases = [
        `echo x > '${mnt}/etc/hostname'`,
        `echo x > '${mnt}/new-file'`,
        `mkdir '${mnt}/newdir'`,
        `rm '${mnt}/etc/hostname'`,
        `mv '${mnt}/etc/hostname' '${mnt}/etc/renamed'`,
        `ln '${mnt}/etc/hostname' '${mnt}/etc/link'`,
        `chmod 777 '${mnt}/etc/hostname'`,
        `touch '${mnt}/etc/hostname'`,
        `setfattr -n user.x -v y '${mnt}/etc/hostname'`,
      ];
      for (const c of cases) {
        const r = await sh(c);
        expect({ c, code: r.code === 0 ? 0 : 1 }).toEqual({ c, code: 1 });
        expect(r.stderr).toContain("Read-only file system");
      }
      const missing = await sh(`stat '${mnt}/etc/nope'`);
      expect(missing.stderr).toContain("No such file or directory");
      // A second miss is served from the kernel's negative entry cache: still ENOENT.
      expect((await sh(`cat '${mnt}/etc/nope'`)).stderr).toContain("No such file or directory");
      expect((await sh(`cat '${mnt}/etc/hostname/x'`)).stderr).toContain("Not a directory");
    });
  });

  test("[slow] a slow read does not block lookups and stats of other files", async () => {
    await withMount(SAMPLE, async (m, mnt) => {
      const started = performance.now();
      const slow = sh(`cat '${mnt}/data/slow'`);
      await Bun.sleep(200); // the READ is now waiting in a worker
      expect(m.stats().inFlight).toBeGreaterThanOrEqual(1);
      const t0 = performance.now();
      const other = await sh(`stat -c %s '${mnt}/home/nobody/.profile' && cat '${mnt}/etc/hostname' && ls '${mnt}/dev'`);
      const otherMs = performance.now() - t0;
      expect(other.stdout).toBe("7\nedgebuild\nbig\nnull\npipe\n");
      const done = await slow;
      const slowMs = performance.now() - started;
      expect(done.stdout).toBe("slow data\n");
      expect(slowMs).toBeGreaterThanOrEqual(1900);
      expect(otherMs).toBeLessThan(1000);
      console.log(`slow read ${slowMs.toFixed(0)} ms; stat+cat+ls of others meanwhile ${otherMs.toFixed(0)} ms`);
    }, { workers: 1 }); // one worker: concurrency comes from the async read, not from spare threads
  });

  test("[slow] records which files a workload opens", async () => {
    const seen: AccessRecord[] = [];
    await withMount(SAMPLE, async (_m, mnt) => {
      await sh(`cat '${mnt}/etc/hostname' '${mnt}/bin/hard' > /dev/null; stat '${mnt}/etc/shadow' > /dev/null`);
      await Bun.sleep(100);
    }, { onAccess: (r) => seen.push(r) });
    expect(seen.map((r) => r.path).sort()).toEqual(["/bin/busybox", "/etc/hostname"]);
  });

  test("[slow] flush() returns only after every open served so far has been reported", async () => {
    const seen: string[] = [];
    const files = ["/etc/hostname", "/etc/shadow", "/bin/su", "/data/tagged", "/data/space name", "/home/nobody/.profile"];
    await withMount(SAMPLE, async (m, mnt) => {
      for (let round = 0; round < 3; round++) {
        seen.length = 0;
        // Synchronous opens keep this thread from taking any message meanwhile: every report was
        // posted (before each open was answered) and none has been delivered yet.
        for (const f of files) readFileSync(join(mnt, f));
        expect(seen).toEqual([]);
        await m.flush();
        expect(seen.toSorted()).toEqual(files.toSorted());
      }
      await m.unmount();
      await m.flush(); // after unmount: resolves, nothing to wait for
    }, { workers: 2, onAccess: (r) => seen.push(r.path!) });
  });

  test("[slow] overlayfs uses the FUSE mount as its lower layer", async () => {
    await withMount(SAMPLE, async (_m, mnt) => {
      const dir = tempDir("ovl");
      const [upper, work, merged] = ["upper", "work", "merged"].map((d) => join(dir, d));
      for (const d of [upper, work, merged]) mkdirSync(d);
      const mounted = await sh(`mount -t overlay overlay -o lowerdir='${mnt}',upperdir='${upper}',workdir='${work}' '${merged}'`);
      expect(mounted.stderr).toBe("");
      try {
        expect((await sh(`cat '${merged}/etc/hostname'`)).stdout).toBe("edgebuild\n");
        const big = await sh(`sha256sum < '${merged}/data/big.bin'`);
        expect(big.stdout.split(" ")[0]).toBe(createHash("sha256").update(patternBytes(0, BIG_SIZE)).digest("hex"));
        expect((await sh(`stat -c '%a %u %g' '${merged}/home/nobody' && readlink '${merged}/bin/sh'`)).stdout).toBe("700 65534 65534\n/bin/busybox\n");
        // Writes land in the upper dir; copy-up reads the lower file through FUSE.
        expect((await sh(`echo changed >> '${merged}/etc/hostname' && cat '${merged}/etc/hostname' '${upper}/etc/hostname'`)).stdout)
          .toBe("edgebuild\nchanged\nedgebuild\nchanged\n");
        expect((await sh(`cat '${mnt}/etc/hostname'`)).stdout).toBe("edgebuild\n");
        expect((await sh(`rm '${merged}/bin/su' && ls '${merged}/bin'`)).stdout).toBe("busybox\nhard\nsh\n");
      } finally {
        await sh(`umount '${merged}'`);
        removeDir(dir);
      }
    });
  });

  test("[slow] unmount detaches the mount; cleanupStaleMounts detaches leftovers", async () => {
    let where = "";
    await withMount(SAMPLE, async (m, mnt) => {
      where = mnt;
      expect(readMountInfo().some((e) => e.mountpoint === mnt && e.fstype === "fuse.edgebuild")).toBe(true);
      const parent = join(mnt, "..");
      expect(cleanupStaleMounts(parent)).toEqual([mnt]);
      expect(readMountInfo().some((e) => e.mountpoint === mnt)).toBe(false);
      await m.unmount(); // after an outside detach, unmount still stops the threads cleanly
      await m.unmount(); // idempotent
    });
    expect(readMountInfo().some((e) => e.mountpoint === where)).toBe(false);
  });

  test("[slow] unmount while an overlay above still uses the mount aborts the connection", async () => {
    const dir = tempDir("busy");
    try {
      let merged = "";
      await withMount(SAMPLE, async (m, mnt) => {
        const [upper, work] = ["upper", "work"].map((d) => join(dir, d));
        merged = join(dir, "merged");
        for (const d of [upper, work, merged]) mkdirSync(d);
        await sh(`mount -t overlay overlay -o lowerdir='${mnt}',upperdir='${upper}',workdir='${work}' '${merged}'`);
        const t0 = performance.now();
        await m.unmount();
        expect(performance.now() - t0).toBeLessThan(6000);
        // The lower is gone: reads of not-yet-cached data fail instead of hanging.
        const r = await sh(`timeout 5 cat '${merged}/data/big.bin' > /dev/null`);
        expect(r.code).not.toBe(124);
      });
      await sh(`umount '${merged}'`);
    } finally {
      removeDir(dir);
    }
  });

  for (const how of ["exit", "throw"]) {
    test(`[slow] a process that ends by ${how} without unmounting leaves no mount behind`, async () => {
      const dir = tempDir("exit");
      try {
        const mnt = join(dir, "mnt");
        mkdirSync(mnt);
        const child = Bun.spawn([process.execPath, join(import.meta.dir, "exit-without-unmount.ts"), mnt, how], { stdout: "pipe", stderr: "pipe" });
        const out = await new Response(child.stdout).text();
        await child.exited;
        expect(out).toBe("edgebuild\n");
        expect(readMountInfo().some((e) => e.mountpoint === mnt)).toBe(false);
      } finally {
        cleanupStaleMounts(dir);
        removeDir(dir);
      }
    });
  }
});
