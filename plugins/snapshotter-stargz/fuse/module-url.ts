// Where worker entries and fs modules live, from source and inside a `bun build --compile` binary.
//
// In a compiled binary every module is bundled into the main file, so `import.meta.url` no longer
// points next to this file; extra entrypoints sit in the embedded filesystem under their path
// relative to the common root of all entrypoints (the repository root), where `new Worker` and
// `import()` find them when given that path. They must be listed at build time — see
// FUSE_BUILD_ENTRYPOINTS.
import { isAbsolute, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const FUSE_DIR_FROM_ROOT = "plugins/snapshotter-stargz/fuse";

/** Extra entrypoints the binary's build must list next to cli/main.ts. */
export const FUSE_BUILD_ENTRYPOINTS = [
  `${FUSE_DIR_FROM_ROOT}/reader-thread.ts`,
  `${FUSE_DIR_FROM_ROOT}/handler-thread.ts`,
] as const;

export function isCompiledBinary(): boolean {
  return import.meta.url.includes("/$bunfs/");
}

function repoRoot(): string {
  return resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
}

/** "file:///$bunfs/root/": the embedded filesystem's root, taken from where this code runs. */
function embeddedRoot(): string {
  const url = import.meta.url;
  const at = url.indexOf("/$bunfs/");
  const rootEnd = url.indexOf("/", at + "/$bunfs/".length);
  return url.slice(0, rootEnd + 1);
}

/** URL of a module given relative to the repository root, valid for new Worker() and import(). */
export function repoModule(relPath: string): string {
  if (isCompiledBinary()) return `${embeddedRoot()}${relPath}`;
  return pathToFileURL(resolve(repoRoot(), relPath)).href;
}

export function workerEntry(name: "reader-thread.ts" | "handler-thread.ts"): string {
  return repoModule(`${FUSE_DIR_FROM_ROOT}/${name}`);
}

/** fsModule may be a URL, an absolute path, or a path relative to the repository root. */
export function resolveFsModule(spec: string): string {
  if (/^[a-z]+:/i.test(spec)) return spec;
  if (isAbsolute(spec)) return pathToFileURL(spec).href;
  return repoModule(spec.replace(/^\.\//, ""));
}
