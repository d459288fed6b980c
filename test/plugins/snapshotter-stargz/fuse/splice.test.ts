// READ replies spliced from local files (FuseOptions.splice) carry the same bytes as the copy path,
// at any offset and size, up to end of file; a span that cannot be spliced falls back to readSync.
import { afterAll, expect, test } from "bun:test";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { patternBytes, type SpecEntry } from "./memfs.ts";
import { removeDir, sh, tempDir, withMount } from "./harness.ts";

const dir = tempDir("splice");
afterAll(() => removeDir(dir));

const SIZE = 3 * 1024 * 1024 + 4321;
const data = patternBytes(17, SIZE);
const backing = join(dir, "backing.bin");
writeFileSync(backing, data);
const entries: SpecEntry[] = [{ path: "/f", type: "file", content: { kind: "file", path: backing, size: SIZE } }];

/** Reads through `mnt` at offsets and sizes that cross pages and the end; returns their md5s. */
async function reads(mnt: string): Promise<string[]> {
  const cmds = [
    `md5sum < '${mnt}/f'`,
    `dd if='${mnt}/f' bs=4093 skip=7 count=300 status=none | md5sum`,
    `dd if='${mnt}/f' bs=1M iflag=direct status=none | md5sum`, // O_DIRECT: every read reaches the server
    `tail -c 5000 '${mnt}/f' | md5sum`,
  ];
  const out: string[] = [];
  for (const c of cmds) out.push((await sh(c)).stdout.split(" ")[0]);
  return out;
}

const md5 = (b: Uint8Array) => new Bun.CryptoHasher("md5").update(b).digest("hex");
const want = [
  md5(data),
  md5(data.subarray(7 * 4093, 307 * 4093)),
  md5(data),
  md5(data.subarray(SIZE - 5000)),
];

test.skipIf(process.getuid?.() !== 0)("spliced READ replies carry the same bytes as copied ones", async () => {
  for (const splice of [true, false]) {
    await withMount(entries, async (m, mnt) => {
      expect(await reads(mnt)).toEqual(want);
      const s = m.stats();
      expect(s.errors).toBe(0);
      if (splice) expect(s.splicedReads).toBeGreaterThan(0);
      else expect(s.splicedReads).toBe(0);
      if (splice) expect(s.splicedReads).toBe(s.reads);
    }, { options: { splice } });
  }
});

test.skipIf(process.getuid?.() !== 0)("a span that cannot be spliced (the file shorter than the tree says) is answered by readSync instead", async () => {
  const short = join(dir, "short.bin");
  writeFileSync(short, data.subarray(0, 1000));
  // The tree claims 5000 bytes: the splice of the span comes up short, so nothing reaches the
  // device and readSync answers (memfs reads what the file has; the rest of its buffer is zeros).
  await withMount([{ path: "/s", type: "file", content: { kind: "file", path: short, size: 5000 } }], async (m, mnt) => {
    const r = await sh(`od -An -tx1 -v '${mnt}/s' | tr -d ' \\n' | head -c 2000`);
    expect(r.stdout).toBe(Buffer.from(data.subarray(0, 1000)).toString("hex"));
    expect(m.stats().splicedReads).toBe(0);
    expect(m.stats().errors).toBe(0);
  });
});

test.skipIf(process.getuid?.() !== 0)("the readahead window is a whole number of READs of the negotiated size", async () => {
  for (const splice of [true, false]) {
    await withMount(entries, async (m, mnt) => {
      const st = statSync(mnt);
      const dev = `${Math.floor(st.dev / 256) & 0xfff}:${(st.dev & 0xff) | ((st.dev >> 12) & 0xfff00)}`;
      const kb = Number(readFileSync(`/sys/class/bdi/${dev}/read_ahead_kb`, "utf8"));
      expect(kb % (m.negotiated.maxPages * 4)).toBe(0);
      expect(kb).toBeGreaterThan(8192 - m.negotiated.maxPages * 4);
      expect(kb).toBeLessThanOrEqual(8192);
    }, { options: { splice } });
  }
});
