// The TOC → inode tree mapping, without mounting: overlay view of whiteouts, hardlinks, hidden
// names, and the shared layer index agreeing with the TOC on every name, attribute and chunk.
import { afterAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { buildEstargz, buildTree, bytesSource, openEstargz, resolveHardlink, type ParsedToc, type TocFile } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from "../../../plugins/snapshotter-stargz/estargz/constants.ts";
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG } from "../../../plugins/snapshotter-stargz/fuse/abi.ts";
import type { NodeAttr } from "../../../plugins/snapshotter-stargz/fuse/types.ts";
import { buildChunkTable } from "../../../plugins/snapshotter-stargz/lazyfs/chunks.ts";
import { IndexFs } from "../../../plugins/snapshotter-stargz/lazyfs/index-fs.ts";
import { buildLayerIndex, makedev } from "../../../plugins/snapshotter-stargz/lazyfs/inode-tree.ts";
import { LayerIndex, type LayerIndexData } from "../../../plugins/snapshotter-stargz/lazyfs/layer-index.ts";
import type { LazyFsInit } from "../../../plugins/snapshotter-stargz/lazyfs/protocol.ts";
import { buildChecker, goBuild } from "../../interop/estargz-check/build-checker.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { layerTar, noise, type EntrySpec } from "./helpers.ts";
import { CHUNK, SAMPLE_ENTRIES } from "./sample-layer.ts";

afterAll(() => removeTempDirs());

const LAYER = "sha256:" + "0".repeat(64);

async function openBlob(blob: Uint8Array) {
  return openEstargz(bytesSource(blob), { layerDigest: LAYER });
}

async function tree(prefix: "trusted" | "user" = "trusted") {
  const built = await buildEstargz(layerTar([
    { name: "d", type: "dir" },
    { name: "d/.wh..wh..opq", data: "" },
    { name: "d/f", data: "f" },
    { name: "d/.wh.old", data: "" },
    { name: "x", data: "xx" },
    { name: "y", type: "link", linkname: "x" },
    { name: "d/z", type: "link", linkname: "x" },
    { name: "l", type: "symlink", linkname: "dé/x", mode: 0o644 },
    { name: "tty", type: "char", devmajor: 5, devminor: 300 },
  ]), { prioritizedFiles: ["x"] });
  const fs = new IndexFs(buildLayerIndex((await openBlob(built.blob!)).toc), prefix);
  const at = (path: string): NodeAttr => {
    let n = fs.root();
    for (const part of path.split("/").filter(Boolean)) n = fs.lookup(BigInt(n.ino), part)!;
    return n;
  };
  const names = (path: string) => fs.readdir(BigInt(at(path).ino)).map((e) => e.name);
  return { fs, at, names };
}

describe("lazyfs inode tree", () => {
  test("landmarks and whiteout markers are hidden; whiteouts become 0:0 char devices, opaque dirs get the xattr", async () => {
    const { fs, at, names } = await tree();
    expect(names("/").sort()).toEqual(["d", "l", "tty", "x", "y"]);
    expect(names("d").sort()).toEqual(["f", "old", "z"]);
    const old = at("d/old");
    expect(old.mode).toBe(S_IFCHR);
    expect(old.rdev).toBe(0);
    expect(new TextDecoder().decode(fs.getxattr(BigInt(at("d").ino), "trusted.overlay.opaque"))).toBe("y");
    expect(fs.listxattr(BigInt(at("d").ino))).toEqual(["trusted.overlay.opaque"]);
    const user = await tree("user");
    expect(user.fs.getxattr(BigInt(user.at("d").ino), "user.overlay.opaque")).toBeDefined();
    expect(user.fs.getxattr(BigInt(user.at("d").ino), "trusted.overlay.opaque")).toBeUndefined();
  });

  test("hardlinks share one inode with nlink counting every name; dirs count subdirs", async () => {
    const { at } = await tree();
    expect(at("y").ino).toBe(at("x").ino);
    expect(at("d/z").ino).toBe(at("x").ino);
    expect(at("x").nlink).toBe(3);
    expect(at("/").ino).toBe(1n);
    expect(at("/").nlink).toBe(3);
  });

  test("symlinks report their target's byte length and 0777; devices their rdev", async () => {
    const { fs, at } = await tree();
    const l = at("l");
    expect(l.mode).toBe(S_IFLNK | 0o777);
    expect(l.size).toBe(new TextEncoder().encode("dé/x").length);
    expect(new TextDecoder().decode(fs.readlink(BigInt(l.ino)))).toBe("dé/x");
    expect(at("tty").rdev).toBe(makedev(5, 300));
    expect(at("tty").mode & S_IFMT).toBe(S_IFCHR);
  });
});

// ---- the index against the TOC, everything a FUSE request can ask ----

const TYPE_BITS: Record<string, number> = { dir: S_IFDIR, reg: S_IFREG, symlink: S_IFLNK, char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO };
const HIDDEN = [PREFETCH_LANDMARK, NO_PREFETCH_LANDMARK, TOC_TAR_NAME];

interface Expected {
  /** Data owner (hardlinks resolved); undefined for a whiteout. */
  owner?: TocFile;
  attr: Omit<NodeAttr, "ino">;
  target?: string;
  xattrs: Record<string, string>;
  path: string;
}

/** What the overlay view of a TOC must show, computed straight from the TOC's directory view. */
function expectedView(toc: ParsedToc, prefix: string): Map<string, Expected> {
  const t = buildTree(toc.files);
  const out = new Map<string, Expected>();
  const links = new Map<TocFile, number>();
  const enc = new TextEncoder();
  const walk = (dir: string) => {
    const kids = [...(t.children.get(dir) ?? [])].filter(([base]) => !(dir === "" && HIDDEN.includes(base)));
    const visible = new Set(kids.map(([b]) => b).filter((b) => !b.startsWith(".wh.")));
    for (const [base, f] of kids) {
      const path = dir ? `${dir}/${base}` : base;
      if (base === ".wh..wh..opq") continue;
      if (base.startsWith(".wh.")) {
        const hidden = base.slice(4);
        const p = dir ? `${dir}/${hidden}` : hidden;
        if (hidden && !visible.has(hidden) && !out.has(p)) out.set(p, { attr: { mode: S_IFCHR, nlink: 1, uid: 0, gid: 0, size: 0, mtimeSec: f.mtime ?? 0, mtimeNsec: 0, rdev: 0 }, xattrs: {}, path: p });
        continue;
      }
      const o = resolveHardlink(toc, f);
      links.set(o, (links.get(o) ?? 0) + 1);
      const xattrs: Record<string, string> = {};
      for (const [k, v] of Object.entries(o.xattrs)) xattrs[k] = Buffer.from(v).toString("hex");
      if (o.type === "dir" && t.children.get(o.name)?.has(".wh..wh..opq")) xattrs[`${prefix}.overlay.opaque`] = Buffer.from("y").toString("hex");
      const size = o.type === "reg" ? o.size : o.type === "symlink" ? enc.encode(o.linkName).length : 0;
      out.set(path, {
        owner: o,
        attr: {
          mode: TYPE_BITS[o.type] | (o.type === "symlink" ? 0o777 : o.mode), nlink: 0, uid: o.uid, gid: o.gid, size,
          mtimeSec: o.mtime ?? 0, mtimeNsec: 0, rdev: o.type === "char" || o.type === "block" ? makedev(o.devMajor, o.devMinor) : 0,
        },
        target: o.type === "symlink" ? o.linkName : undefined,
        xattrs,
        path: o.name,
      });
      if (o.type === "dir") walk(o.name);
    }
  };
  walk("");
  for (const [path, e] of out) {
    if (!e.owner) e.attr.nlink = 1;
    else if (e.owner.type === "dir") e.attr.nlink = 2 + [...out].filter(([p, c]) => c.owner?.type === "dir" && p.startsWith(`${path}/`) && !p.slice(path.length + 1).includes("/")).length;
    else e.attr.nlink = links.get(e.owner)!;
  }
  return out;
}

/** Walks `fs` through readdir, lookup, getattr, readlink and xattrs and checks each against the TOC. */
function checkAgainstToc(toc: ParsedToc, data: LayerIndexData, prefix: "trusted" | "user") {
  const fs = new IndexFs(data, prefix);
  const want = expectedView(toc, prefix);
  const seen = new Map<string, bigint>();
  const inoOfOwner = new Map<TocFile, bigint>();
  const walk = (dirIno: bigint, dir: string) => {
    const entries = fs.readdir(dirIno);
    const wantNames = [...want.keys()].filter((p) => (dir ? p.startsWith(`${dir}/`) && !p.slice(dir.length + 1).includes("/") : !p.includes("/")));
    expect(entries.map((e) => (dir ? `${dir}/${e.name}` : e.name)).sort()).toEqual(wantNames.sort());
    for (const e of entries) {
      const path = dir ? `${dir}/${e.name}` : e.name;
      const w = want.get(path)!;
      const attr = fs.getattr(BigInt(e.ino));
      expect(fs.lookup(dirIno, e.name)).toEqual(attr);
      const { ino, ...rest } = attr;
      expect({ path, ...rest }).toEqual({ path, ...w.attr });
      expect(e.mode).toBe(attr.mode);
      expect(fs.pathOf(BigInt(ino))).toBe(w.path);
      if (w.target !== undefined) expect(new TextDecoder().decode(fs.readlink(BigInt(ino)))).toBe(w.target);
      else expect(() => fs.readlink(BigInt(ino))).toThrow();
      const xattrs: Record<string, string> = {};
      for (const k of fs.listxattr(BigInt(ino))) xattrs[k] = Buffer.from(fs.getxattr(BigInt(ino), k)!).toString("hex");
      expect({ path, xattrs }).toEqual({ path, xattrs: w.xattrs });
      expect(fs.getxattr(BigInt(ino), "user.not-there")).toBeUndefined();
      // One inode per data owner, a new one for every whiteout.
      if (w.owner) {
        const known = inoOfOwner.get(w.owner);
        if (known !== undefined) expect({ path, ino }).toEqual({ path, ino: known });
        inoOfOwner.set(w.owner, BigInt(ino));
      }
      expect([...seen.values()].filter((i) => i === BigInt(ino) && !w.owner)).toEqual([]);
      seen.set(path, BigInt(ino));
      if ((attr.mode & S_IFMT) === S_IFDIR) walk(BigInt(ino), path);
      else expect(() => fs.readdir(BigInt(ino))).toThrow();
    }
    for (const hidden of [".wh..wh..opq", "no-such-name", ...(dir ? [] : HIDDEN)]) expect(fs.lookup(dirIno, hidden)).toBeUndefined();
  };
  expect(fs.root().ino).toBe(1n);
  walk(1n, "");
  expect(seen.size).toBe(want.size);
  const inodes = new Set(seen.values()).size + 1;
  expect(fs.statfs().files).toBe(inodes);
  expect(() => fs.getattr(BigInt(inodes + 1))).toThrow();

  // Chunk ids: the same numbering as the fetch thread's table, every span equal.
  const table = buildChunkTable(toc);
  const index = new LayerIndex(data);
  expect(index.chunkCount).toBe(table.chunks.length);
  const c = index.cols;
  for (const ref of table.chunks) {
    const id = ref.id;
    expect([c.chunkOffset[id], c.chunkSize[id], c.offset[id], c.compressedEnd[id], c.innerOffset[id], c.fileFirst[id]])
      .toEqual([ref.chunkOffset, ref.chunkSize, ref.offset, ref.compressedEnd, ref.innerOffset, table.byFile.get(ref.file.name)![0]]);
  }
  for (const [owner, ino] of inoOfOwner) {
    if (owner.type !== "reg") continue;
    const i = Number(ino) - 1;
    const ids = Array.from({ length: c.a1[i] }, (_, k) => c.a0[i] + k);
    expect({ name: owner.name, ids }).toEqual({ name: owner.name, ids: table.byFile.get(owner.name) ?? [] });
    for (const [k, id] of ids.entries()) expect(index.chunkAt(i, owner.chunks[k].chunkOffset + owner.chunks[k].chunkSize - 1)).toBe(id);
  }
  return { fs, want };
}

/** The sample layer plus what stresses the index: implicit dirs, non-ASCII names whose UTF-8 and
 *  UTF-16 orders differ, a big directory, hardlinks across dirs, a whiteout of an existing name. */
const EXTRA: EntrySpec[] = [
  ...Array.from({ length: 300 }, (_, i) => ({ name: `many/f${(i * 7919) % 1000}`, data: i % 3 ? "" : `${i}` })),
  { name: "many/\u{1F600}", data: "emoji" },
  { name: "many/\uFF21", data: "fullwidth A" },
  { name: "many/é", type: "symlink" as const, linkname: "../bin/sh" },
  { name: "many/.wh.f919", data: "" },
  { name: "implicit/a/b/leaf", data: noise(3 * 1024, 5), mode: 0o600, uid: 7 },
  { name: "implicit/a/link-to-busybox", type: "link" as const, linkname: "bin/busybox" },
  { name: "implicit/.wh.ghost", data: "" },
];

describe("lazyfs layer index", () => {
  for (const [label, opts] of [["gzip", { chunkSize: 4096 }], ["zstd:chunked", { format: "zstd-chunked" as const, chunkSize: 4096 }]] as const) {
    test(`agrees with the TOC on every lookup, attribute, listing, link, xattr and chunk (${label})`, async () => {
      const r = await openBlob((await buildEstargz(layerTar([...SAMPLE_ENTRIES, ...EXTRA]), { ...opts, prioritizedFiles: ["bin/su"] })).blob!);
      const { want } = checkAgainstToc(r.toc, buildLayerIndex(r.toc), "trusted");
      expect(want.get("many/f919")?.owner?.type).toBe("reg"); // a whiteout of a name that exists stays hidden
      expect(want.get("implicit/ghost")?.attr.mode).toBe(S_IFCHR);
      expect(want.get("implicit/a/b")?.attr.mode).toBe(S_IFDIR | 0o755);
      checkAgainstToc(r.toc, buildLayerIndex(r.toc), "user");
    });
  }

  test("[slow] agrees with the TOC of blobs the Go reference wrote (gzip and zstd:chunked)", async () => {
    const work = tempDir("index-go-");
    const tarPath = join(work, "layer.tar");
    writeFileSync(tarPath, layerTar([...SAMPLE_ENTRIES, ...EXTRA]));
    for (const zstd of [false, true]) {
      const out = join(work, `go-${zstd}.blob`);
      goBuild(buildChecker(), tarPath, out, { zstd, chunkSize: CHUNK / 4, prioritized: ["bin/su"] });
      const r = await openBlob(readFileSync(out));
      checkAgainstToc(r.toc, buildLayerIndex(r.toc), "trusted");
    }
  }, 120_000);

  test("a FUSE worker answers from the shared index: nothing parsed or copied there", async () => {
    const r = await openBlob((await buildEstargz(layerTar(SAMPLE_ENTRIES), { chunkSize: CHUNK })).blob!);
    const data = buildLayerIndex(r.toc);
    const init: LazyFsInit = {
      layerDigest: LAYER, index: data, channel: `index-test-${process.pid}`, cacheDir: tempDir("index-cache-"),
      passthrough: false, memoryCacheBytes: 0, readaheadChunks: 0, overlayXattrPrefix: "trusted",
    };
    // The whole init a worker gets: no TOC, only the shared buffer and a few settings.
    expect(Object.keys(init).sort()).toEqual(["cacheDir", "channel", "index", "layerDigest", "memoryCacheBytes", "overlayXattrPrefix", "passthrough", "readaheadChunks"]);
    const w = new Worker(join(import.meta.dir, "index-worker.ts"));
    try {
      const ask = (m: unknown) => new Promise<unknown>((res) => {
        w.onmessage = (e) => res(e.data);
        w.postMessage(m);
      });
      expect(await ask({ init })).toBe("ready");
      const local = new IndexFs(data, "trusted");
      const etc = local.lookup(1n, "etc")!;
      const hostname = local.lookup(BigInt(etc.ino), "hostname")!;
      expect(await ask({ lookup: [etc.ino, "hostname"] })).toEqual(hostname);
      // Change the owner of etc/hostname here: the worker sees it, so it reads this very memory.
      const index = new LayerIndex(data);
      index.cols.uid[Number(hostname.ino) - 1] = 4242;
      expect(await ask({ lookup: [etc.ino, "hostname"] })).toEqual({ ...hostname, uid: 4242 });
      expect(await ask({ readdir: 1n })).toEqual(local.readdir(1n).map((e) => e.name));
    } finally {
      w.terminate();
    }
  });
});
