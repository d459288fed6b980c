// Builds the Go estargz-check program once per source version and caches the binary, so interop
// tests pay the Go build (a few seconds) only when main.go changes.
import { createHash } from "node:crypto";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SOURCE_DIR = import.meta.dir;
const GOPATH = "/usr/share/gocode";
const REFERENCE_PKG = `${GOPATH}/src/github.com/containerd/stargz-snapshotter/estargz`;

function cacheRoot(): string {
  for (const dir of ["/var/cache/edgebuild-test", join(tmpdir(), "edgebuild-test-cache")]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {
      // not writable here: try the next location
    }
  }
  throw new Error("estargz-check: no writable cache directory");
}

/** Path of the built checker. Throws with the Go compiler's output when the build fails. */
export function buildChecker(): string {
  if (!existsSync(REFERENCE_PKG)) {
    throw new Error(`estargz-check: ${REFERENCE_PKG} missing; apt-get install -y golang-github-containerd-stargz-snapshotter-dev`);
  }
  const source = readFileSync(join(SOURCE_DIR, "main.go"));
  const goVersion = Bun.spawnSync(["go", "version"]).stdout.toString().trim();
  const key = createHash("sha256").update(source).update(goVersion).digest("hex").slice(0, 16);
  const dir = join(cacheRoot(), "estargz-check");
  const bin = join(dir, `estargz-check-${key}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const tmp = `${bin}.tmp-${process.pid}`;
  // GOPATH mode: Debian's -dev packages put the reference package and its deps under GOPATH.
  const res = Bun.spawnSync(["go", "build", "-o", tmp, "."], {
    cwd: SOURCE_DIR,
    env: { ...process.env, GO111MODULE: "off", GOPATH, GOFLAGS: "", GOCACHE: join(dir, "gocache") },
  });
  if (res.exitCode !== 0) throw new Error(`estargz-check: go build failed:\n${res.stderr.toString()}`);
  renameSync(tmp, bin);
  return bin;
}

export interface CheckerFile {
  type: string;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  userName?: string;
  groupName?: string;
  linkName?: string;
  devMajor?: number;
  devMinor?: number;
  modtime?: string;
  /** base64 values, as Go marshals []byte */
  xattrs?: Record<string, string>;
  digest?: string;
  chunks?: number;
  /** Offset of the entry in the blob (the reference's TOCEntry.Offset): shows the entry order. */
  offset: number;
}

export interface CheckerVerifyResult {
  tocDigest: string;
  diffID: string;
  uncompressedSize: number;
  files: Record<string, CheckerFile>;
}

/** Run `estargz-check verify`; a rejection by the reference fails with its message. */
export function goVerify(bin: string, blobPath: string, expectedTocDigest?: string): CheckerVerifyResult {
  const res = Bun.spawnSync([bin, "verify", blobPath, ...(expectedTocDigest ? [expectedTocDigest] : [])]);
  if (res.exitCode !== 0) throw new Error(`reference estargz rejected ${blobPath}: ${res.stderr.toString().trim()}`);
  return JSON.parse(res.stdout.toString());
}

/** Run `estargz-check build`; returns the reference's TOC digest and diffID. */
export function goBuild(bin: string, tarPath: string, outPath: string, opts: { zstd?: boolean; chunkSize?: number; prioritized?: string[]; level?: number } = {}) {
  const args = [bin, "build", tarPath, outPath];
  if (opts.level !== undefined) args.push("-level", String(opts.level));
  if (opts.zstd) args.push("-zstd");
  if (opts.chunkSize) args.push("-chunk-size", String(opts.chunkSize));
  if (opts.prioritized?.length) args.push("-prioritized", opts.prioritized.join(","));
  // One part: the reference splits work by GOMAXPROCS, which changes its output layout.
  const res = Bun.spawnSync(args, { env: { ...process.env, GOMAXPROCS: "1" } });
  if (res.exitCode !== 0) throw new Error(`reference estargz build failed: ${res.stderr.toString().trim()}`);
  return JSON.parse(res.stdout.toString()) as { tocDigest: string; diffID: string };
}

/** One gzip member of a blob, as `estargz-check members` reports it. */
export interface GoMember {
  offset: number;
  compressed: number;
  plain: number;
  /** Size Go's compress/gzip (the reference's codec) gives on this member's bytes at the level asked. */
  goSize: number;
  goNanos: number;
}

/** Run `estargz-check members`: every gzip member of a blob, recompressed with Go at `level`. */
export async function goMembers(bin: string, blobPath: string, level = 9): Promise<GoMember[]> {
  const proc = Bun.spawn([bin, "members", blobPath, "-level", String(level)], { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  if (code !== 0) throw new Error(`estargz-check members ${blobPath}: ${err.trim()}`);
  return out.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as GoMember);
}
