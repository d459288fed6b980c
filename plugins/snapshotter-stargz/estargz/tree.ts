// Directory view of a TOC for filesystem code: children by base name, with the directories a
// layer implies but has no entry for (e.g. "a/b/c" alone) made up the way the reference does:
// mode 0755, owned by root, no mtime.
import { parentOf } from "./names.ts";
import type { TocFile } from "./toc.ts";

export interface TocTree {
  /** Directory name ("" = root) → base name → entry. Hardlinks stay hardlinks (resolve with the reader). */
  readonly children: Map<string, Map<string, TocFile>>;
  /** Every entry by cleaned name, implicit directories included. */
  readonly byName: Map<string, TocFile>;
  /** Directories that exist only because something below them does. */
  readonly implicitDirs: TocFile[];
}

function implicitDir(name: string): TocFile {
  return {
    name, type: "dir", size: 0, mode: 0o755, rawMode: 0o755, uid: 0, gid: 0, userName: "", groupName: "",
    mtime: undefined, linkName: "", xattrs: {}, devMajor: 0, devMinor: 0, digest: undefined, chunks: [], tocIndex: -1,
  };
}

export function buildTree(files: TocFile[]): TocTree {
  const byName = new Map<string, TocFile>();
  for (const f of files) byName.set(f.name, f);
  const children = new Map<string, Map<string, TocFile>>();
  const implicitDirs: TocFile[] = [];
  const dirChildren = (dir: string): Map<string, TocFile> => {
    let m = children.get(dir);
    if (!m) children.set(dir, (m = new Map()));
    return m;
  };
  const ensureDir = (name: string): void => {
    if (!byName.has(name)) {
      const d = implicitDir(name);
      byName.set(name, d);
      implicitDirs.push(d);
      if (name !== "") link(d);
    }
    dirChildren(name);
  };
  const link = (f: TocFile): void => {
    const parent = parentOf(f.name);
    ensureDir(parent);
    dirChildren(parent).set(f.name.slice(parent === "" ? 0 : parent.length + 1), f);
  };
  ensureDir("");
  for (const f of files) {
    if (f.name === "") continue;
    if (f.type === "dir") dirChildren(f.name);
    link(f);
  }
  return { children, byName, implicitDirs };
}
