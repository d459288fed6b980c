// The TOC → inode tree mapping, without mounting: overlay view of whiteouts, hardlinks, hidden names.
import { describe, expect, test } from "bun:test";
import { buildEstargz, bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { S_IFCHR, S_IFLNK, S_IFMT } from "../../../plugins/snapshotter-stargz/fuse/abi.ts";
import { buildInodeTree, makedev, type Inode } from "../../../plugins/snapshotter-stargz/lazyfs/inode-tree.ts";
import { layerTar } from "./helpers.ts";

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
  const r = await openEstargz(bytesSource(built.blob!), { layerDigest: "sha256:" + "0".repeat(64) });
  const inodes = buildInodeTree(r.toc, prefix);
  const at = (path: string): Inode => {
    let n = inodes.get(1n)!;
    for (const part of path.split("/").filter(Boolean)) n = inodes.get(n.children!.get(part)!)!;
    return n;
  };
  return { inodes, at };
}

describe("lazyfs inode tree", () => {
  test("landmarks and whiteout markers are hidden; whiteouts become 0:0 char devices, opaque dirs get the xattr", async () => {
    const { at } = await tree();
    expect([...at("/").children!.keys()].sort()).toEqual(["d", "l", "tty", "x", "y"]);
    expect([...at("d").children!.keys()].sort()).toEqual(["f", "old", "z"]);
    const old = at("d/old").attr;
    expect(old.mode).toBe(S_IFCHR);
    expect(old.rdev).toBe(0);
    expect(new TextDecoder().decode(at("d").xattrs.get("trusted.overlay.opaque"))).toBe("y");
    const user = await tree("user");
    expect(user.at("d").xattrs.has("user.overlay.opaque")).toBe(true);
  });

  test("hardlinks share one inode with nlink counting every name; dirs count subdirs", async () => {
    const { at } = await tree();
    expect(at("y").attr.ino).toBe(at("x").attr.ino);
    expect(at("d/z").attr.ino).toBe(at("x").attr.ino);
    expect(at("x").attr.nlink).toBe(3);
    expect(at("/").attr.ino).toBe(1n);
    expect(at("/").attr.nlink).toBe(3);
  });

  test("symlinks report their target's byte length and 0777; devices their rdev", async () => {
    const { at } = await tree();
    const l = at("l");
    expect(l.attr.mode).toBe(S_IFLNK | 0o777);
    expect(l.attr.size).toBe(new TextEncoder().encode("dé/x").length);
    expect(at("tty").attr.rdev).toBe(makedev(5, 300));
    expect(at("tty").attr.mode & S_IFMT).toBe(S_IFCHR);
  });
});
