// Entry order of a converted layer: prioritized files first (each preceded by its parent
// directories and, for hardlinks, their targets), then the landmark, then everything else in
// archive order. Mirrors the reference's sortEntries, including "a later duplicate replaces an
// earlier one" and dropping any landmark or TOC entries already in the input.
import { NO_PREFETCH_LANDMARK, PREFETCH_LANDMARK, TOC_TAR_NAME } from "./constants.ts";
import { cleanEntryName, parentOf } from "./names.ts";
import type { TarEntry } from "./tar-read.ts";

export type OrderedItem = { kind: "tar"; entry: TarEntry; name: string } | { kind: "landmark"; name: string };

export interface OrderResult {
  items: OrderedItem[];
  /** Prioritized paths not found in the tar (only when missing ones are allowed). */
  missed: string[];
}

export function orderEntries(entries: TarEntry[], prioritized: string[], allowMissing: boolean): OrderResult {
  const rest = new Map<string, TarEntry>();
  for (const e of entries) {
    const c = cleanEntryName(e.name);
    if ("problem" in c) throw new Error(`convert to eStargz: tar entry ${JSON.stringify(e.name)}: ${c.problem}`);
    if (c.name === PREFETCH_LANDMARK || c.name === NO_PREFETCH_LANDMARK || c.name === TOC_TAR_NAME) continue;
    rest.delete(c.name); // a later entry with the same name replaces the earlier one, at its own position
    rest.set(c.name, e);
  }
  const first: OrderedItem[] = [];
  const moved = new Set<string>();
  const missed: string[] = [];

  const move = (name: string, depth: number): boolean => {
    if (depth > 4096) throw new Error(`convert to eStargz: prioritized file ${JSON.stringify(name)}: hardlink loop`);
    if (name === "") {
      const root = rest.get("");
      if (root) {
        first.push({ kind: "tar", entry: root, name: "" });
        rest.delete("");
        moved.add("");
      }
      return true;
    }
    if (!rest.has(name) && !moved.has(name)) return false;
    // Parents and hardlink targets missing from this layer are not an error (they may live in a
    // lower layer); the reference fails there, which rejects layers without directory entries.
    move(parentOf(name), depth + 1);
    const e = rest.get(name);
    if (e?.typeflag === "1") {
      const target = cleanEntryName(e.linkname);
      if ("problem" in target) throw new Error(`convert to eStargz: tar entry ${JSON.stringify(e.name)}: hardlink target ${target.problem}`);
      move(target.name, depth + 1);
    }
    if (e && rest.get(name) === e) {
      first.push({ kind: "tar", entry: e, name });
      rest.delete(name);
      moved.add(name);
    }
    return true;
  };

  for (const p of prioritized) {
    const c = cleanEntryName(p.replace(/^\/+/, ""));
    if ("problem" in c) throw new Error(`convert to eStargz: prioritized file ${JSON.stringify(p)}: ${c.problem}`);
    if (!move(c.name, 0)) {
      if (!allowMissing) throw new Error(`convert to eStargz: prioritized file ${JSON.stringify(p)} is not in the layer`);
      missed.push(p);
    }
  }
  first.push({ kind: "landmark", name: prioritized.length === 0 ? NO_PREFETCH_LANDMARK : PREFETCH_LANDMARK });
  const items = [...first];
  for (const [name, entry] of rest) items.push({ kind: "tar", entry, name });
  return { items, missed };
}
