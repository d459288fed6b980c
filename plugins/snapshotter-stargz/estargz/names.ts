// Entry-name cleaning shared by the writer and the TOC parser. The reference cleans names as
// path.Clean("/"+name), which silently maps "../x" to "x"; we reject such names instead, because
// a layer that tries to climb out of its root is corrupt or hostile.

/** An empty, "." or ".." segment, or a trailing "/". */
const ODD_SEGMENT = /(^|\/)\.{0,2}(\/|$)/;

/**
 * Clean a tar/TOC name: drop "." segments, empty segments and a trailing "/", resolve ".." inside the
 * name. Returns "" for the root. Returns an Error-describing string via `problem` for names that are
 * absolute, escape the root, or contain NUL.
 */
export function cleanEntryName(raw: string): { name: string } | { problem: string } {
  if (raw.includes("\0")) return { problem: "name contains a NUL byte" };
  if (raw.startsWith("/")) return { problem: "absolute name" };
  // Clean already (no empty, "." or ".." segment): the name itself, no copy (a TOC has thousands).
  if (!ODD_SEGMENT.test(raw)) return { name: raw };
  const out: string[] = [];
  for (const seg of raw.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") {
      if (out.length === 0) return { problem: "name escapes the layer root" };
      out.pop();
      continue;
    }
    out.push(seg);
  }
  return { name: out.join("/") };
}

/** Parent directory of a cleaned name ("" for top-level names and for the root). */
export function parentOf(name: string): string {
  const i = name.lastIndexOf("/");
  return i < 0 ? "" : name.slice(0, i);
}
