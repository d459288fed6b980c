import { expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { removeDir, sh, tempDir, withMount } from "./harness.ts";

test.skipIf(process.getuid?.() !== 0)("[slow] FUSE passthrough serves a locally cached file without READ requests, also under overlayfs", async () => {
  const dir = tempDir("passthrough");
  try {
    const backing = join(dir, "backing.bin");
    const body = "cached on local disk\n".repeat(1000);
    writeFileSync(backing, body);
    const entries = [
      { path: "/cached.txt", type: "file" as const, content: { kind: "file" as const, path: backing, size: body.length }, passthrough: true },
      { path: "/remote.txt", type: "file" as const, content: { kind: "file" as const, path: backing, size: body.length } },
    ];
    await withMount(entries, async (m, mnt) => {
      expect(m.negotiated.passthrough).toBe(true);
      expect((await sh(`md5sum < '${mnt}/cached.txt'; md5sum < '${mnt}/remote.txt'; md5sum < '${backing}'`)).stdout.split("\n").slice(0, 3).map((l) => l.split(" ")[0]))
        .toEqual(Array(3).fill(new Bun.CryptoHasher("md5").update(body).digest("hex")));
      const s = m.stats();
      expect(s.passthroughOpens).toBe(1);
      expect(s.bytesRead).toBe(body.length); // only remote.txt went through the server
      const [upper, work, merged] = ["upper", "work", "merged"].map((d) => join(dir, d));
      for (const d of [upper, work, merged]) mkdirSync(d);
      const ovl = await sh(`mount -t overlay overlay -o lowerdir='${mnt}',upperdir='${upper}',workdir='${work}' '${merged}'`);
      expect(ovl.stderr).toBe("");
      try {
        expect((await sh(`head -c 21 '${merged}/cached.txt'`)).stdout).toBe("cached on local disk\n");
      } finally {
        await sh(`umount '${merged}'`);
      }
    }, { options: { passthrough: true } });
  } finally {
    removeDir(dir);
  }
});
