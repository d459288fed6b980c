// Benchmark (not a test): `npx bun test/plugins/snapshotter-stargz/fuse/bench.ts` as root.
// Read throughput of a 200 MB file through the mount vs local disk, and `find | xargs stat` over
// 10,000 files, cold (first pass: every request reaches the server) and warm (kernel caches).
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mountFuse } from "../../../../plugins/snapshotter-stargz/fuse/mount.ts";
import type { FuseMount } from "../../../../plugins/snapshotter-stargz/fuse/types.ts";
import { MEMFS_MODULE, removeDir, sh, tempDir } from "./harness.ts";
import { patternBytes, type SpecEntry } from "./memfs.ts";

const SIZE = 200 * 1024 * 1024;
const workers = Number(process.env.WORKERS ?? 2);

async function timed(label: string, cmd: string, bytes?: number): Promise<void> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const r = await sh(cmd);
  const ms = performance.now() - t0;
  const c = process.cpuUsage(c0);
  label += ` [server cpu ${((c.user + c.system) / 1000).toFixed(0)} ms]`;
  if (r.code !== 0) throw new Error(`bench.ts: ${label}: ${r.stderr.trim()}`);
  const rate = bytes ? `  ${(bytes / 1024 / 1024 / (ms / 1000)).toFixed(0)} MB/s` : "";
  console.log(`${label.padEnd(80)} ${ms.toFixed(0).padStart(6)} ms${rate}`);
}

async function withFs<T>(root: string, name: string, entries: SpecEntry[], passthrough: boolean, body: (mnt: string, m: FuseMount) => Promise<T>, inline = true) {
  const mnt = join(root, name);
  mkdirSync(mnt);
  const m = await mountFuse({ mountpoint: mnt, fsModule: MEMFS_MODULE, fsInit: { entries, inline }, workers, options: { passthrough } });
  try {
    return await body(mnt, m);
  } finally {
    await m.unmount();
  }
}

const root = tempDir("bench");
try {
  console.log(`workers=${workers}`);
  const local = join(root, "local.bin");
  const chunk = patternBytes(0, 8 * 1024 * 1024);
  const f = Bun.file(local).writer();
  for (let i = 0; i < SIZE / chunk.byteLength; i++) f.write(chunk);
  await f.end();

  await timed("local disk, O_DIRECT (no page cache)", `dd if='${local}' of=/dev/null bs=1M iflag=direct status=none`, SIZE);
  await timed("local disk, page cache", `cat '${local}' > /dev/null; dd if='${local}' of=/dev/null bs=1M status=none`, SIZE);

  await withFs(root, "mem", [{ path: "/big", type: "file", content: { kind: "pattern", size: SIZE } }], false, async (mnt, m) => {
    await timed("FUSE, in-memory file, cold (every byte through the server)", `dd if='${mnt}/big' of=/dev/null bs=1M status=none`, SIZE);
    await timed("FUSE, in-memory file, warm (kernel page cache)", `dd if='${mnt}/big' of=/dev/null bs=1M status=none`, SIZE);
    const s = m.stats();
    console.log(`  READ requests: ${s.reads}, average ${(s.bytesRead / Math.max(1, s.reads) / 1024).toFixed(0)} KiB`);
  });
  await withFs(root, "disk", [{ path: "/big", type: "file", content: { kind: "file", path: local, size: SIZE } }], false, async (mnt) => {
    await timed("FUSE, file read from local disk by the server, cold", `dd if='${mnt}/big' of=/dev/null bs=1M status=none`, SIZE);
  });
  await withFs(root, "pt", [{ path: "/big", type: "file", content: { kind: "file", path: local, size: SIZE }, passthrough: true }], true, async (mnt, m) => {
    await timed("FUSE passthrough to the local file", `dd if='${mnt}/big' of=/dev/null bs=1M status=none`, SIZE);
    console.log(`  READ requests reaching the server: ${m.stats().reads}`);
  });

  // 10,000 files in 100 directories.
  const entries: SpecEntry[] = [];
  const tree = join(root, "tree");
  for (let d = 0; d < 100; d++) {
    entries.push({ path: `/d${d}`, type: "dir" });
    mkdirSync(join(tree, `d${d}`), { recursive: true });
    for (let i = 0; i < 100; i++) {
      entries.push({ path: `/d${d}/f${i}`, type: "file", content: { kind: "text", text: `${d}/${i}\n` } });
      writeFileSync(join(tree, `d${d}`, `f${i}`), `${d}/${i}\n`);
    }
  }
  const statAll = (dir: string) => `cd '${dir}' && find . | xargs stat > /dev/null`;
  await timed("local disk: find | xargs stat, 10,100 entries", statAll(tree));
  await timed("local disk: cat of 10,000 small files", `cd '${tree}' && find . -type f | xargs cat > /dev/null`);
  // Answered by the reader thread itself (createInlineFs), then with every request handed to a worker.
  for (const inline of [true, false]) {
    const how = inline ? "inline" : "via worker";
    await withFs(root, `many-${how.replace(" ", "-")}`, entries, false, async (mnt, m) => {
      await timed(`FUSE (${how}): find | xargs stat, 10,100 entries, cold`, statAll(mnt));
      const cold = m.stats().requests;
      await timed(`FUSE (${how}): find | xargs stat, 10,100 entries, warm`, statAll(mnt));
      console.log(`  requests: cold pass ${cold}, warm pass ${m.stats().requests - cold}`);
      await timed(`FUSE (${how}): cat of 10,000 small files, cold`, `cd '${mnt}' && find . -type f | xargs cat > /dev/null`);
    }, inline);
  }
} finally {
  removeDir(root);
}
