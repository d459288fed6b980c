// Shared by the lazy-layer tests: layer tars from a spec, eStargz blobs pushed to a registry, a
// snapshotter over them, and a tree comparison of a mount against the tar unpacked on disk.
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import { readMountInfo } from "../../../plugins/snapshotter-stargz/fuse/mountinfo.ts";
import { join } from "node:path";
import { llistxattr, lgetxattr } from "../../../core/layer/libc.ts";
import { END_OF_ARCHIVE, encodeHeader } from "../../../core/layer/tar-writer.ts";
import type { TarEntry } from "../../../core/layer/tar-header.ts";
import { RegistryClient } from "../../../core/registry/client.ts";
import { buildEstargz, type BuildOptions } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { defaultStargzConfig, type StargzConfig } from "../../../plugins/snapshotter-stargz/config.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";
import type { RemoteLayer } from "../../../core/snapshot/types.ts";

export type EntrySpec = Partial<TarEntry> & { name: string; data?: Uint8Array | string };

const enc = new TextEncoder();

export function layerTar(specs: EntrySpec[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const s of specs) {
    const data = typeof s.data === "string" ? enc.encode(s.data) : (s.data ?? new Uint8Array());
    const type = s.type ?? "file";
    const e: TarEntry = {
      name: s.name, type, mode: s.mode ?? (type === "dir" ? 0o755 : 0o644), uid: s.uid ?? 0, gid: s.gid ?? 0,
      size: type === "file" ? data.length : 0, mtime: s.mtime ?? 1_700_000_000, linkname: s.linkname ?? "",
      devmajor: s.devmajor ?? 0, devminor: s.devminor ?? 0, xattrs: s.xattrs ?? {},
    };
    parts.push(encodeHeader(e));
    if (type === "file" && data.length) {
      parts.push(data, new Uint8Array((512 - (data.length % 512)) % 512));
    }
  }
  parts.push(END_OF_ARCHIVE);
  return new Uint8Array(Buffer.concat(parts));
}

/** Deterministic pseudo-random bytes (incompressible, so chunk spans are about chunk-sized). */
export function noise(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed * 0x9e3779b9 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

export interface PushedLayer {
  layer: RemoteLayer;
  blob: Uint8Array;
  tocDigest: string;
}

/** `client` pushes with credentials (registries with auth). */
export async function pushEstargz(registryHost: string, repository: string, tar: Uint8Array, opts: BuildOptions = {}, client = new RegistryClient()): Promise<PushedLayer> {
  const built = await buildEstargz(tar, opts);
  return pushBlob(registryHost, repository, built.blob!, built.tocDigest, built.mediaType, built.annotations, client);
}

/** Uploads a blob someone else built (e.g. the Go reference) as a layer with a TOC digest annotation. */
export async function pushBlob(registryHost: string, repository: string, blob: Uint8Array, tocDigest: string, mediaType: string, annotations: Record<string, string> = {}, client = new RegistryClient()): Promise<PushedLayer> {
  const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
  await client.uploadBlob({ registry: registryHost, repository }, digest, blob.length, blob);
  return {
    blob,
    tocDigest,
    layer: {
      imageRef: `${registryHost}/${repository}:test`,
      registry: registryHost,
      repository,
      descriptor: { mediaType, digest, size: blob.length, annotations: { ...annotations, "containerd.io/snapshot/stargz/toc.digest": tocDigest } },
    },
  };
}

/** A layer as seen through another registry host (e.g. the counting proxy). */
export function via(layer: RemoteLayer, host: string): RemoteLayer {
  return { ...layer, registry: host, imageRef: layer.imageRef.replace(layer.registry, host) };
}

export function testConfig(over: Parameters<typeof defaultStargzConfig>[0] = {}): StargzConfig {
  return defaultStargzConfig({ no_background_fetch: true, ...over });
}

export function newSnapshotter(root: string, config: StargzConfig, logs: string[] = []): StargzSnapshotter {
  return new StargzSnapshotter({ root, config, log: (m) => logs.push(m) });
}

export interface FileFacts {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  rdev: number;
  nlink: number;
  content?: string;
  target?: string;
  xattrs: Record<string, string>;
  /** Index of the hardlink group (files sharing an inode), in walk order. */
  linkGroup?: number;
}

/** Everything observable about a tree, by relative path. `skip` names top-level entries to ignore. */
export function describeTree(root: string, skip: string[] = []): Map<string, FileFacts> {
  const out = new Map<string, FileFacts>();
  const groups = new Map<bigint, number>();
  const walk = (rel: string) => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p, { bigint: true });
    const type = st.isDirectory() ? "dir" : st.isFile() ? "file" : st.isSymbolicLink() ? "symlink" : st.isCharacterDevice() ? "char" : st.isBlockDevice() ? "block" : st.isFIFO() ? "fifo" : "other";
    const xattrs: Record<string, string> = {};
    for (const k of llistxattr(p).sort()) if (!k.startsWith("security.")) xattrs[k] = Buffer.from(lgetxattr(p, k) ?? []).toString("base64");
    const facts: FileFacts = {
      type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: type === "dir" ? 0 : Number(st.size),
      mtime: Number(st.mtimeMs / 1000n), rdev: Number(st.rdev), nlink: type === "dir" ? 0 : Number(st.nlink), xattrs,
    };
    if (type === "file") {
      facts.content = createHash("sha256").update(readFileSync(p)).digest("hex");
      if (st.nlink > 1n) {
        if (!groups.has(st.ino)) groups.set(st.ino, groups.size);
        facts.linkGroup = groups.get(st.ino);
      }
    }
    if (type === "symlink") facts.target = readlinkSync(p);
    if (rel) out.set(rel, facts);
    if (type === "dir") for (const c of readdirSync(p).sort()) if (rel || !skip.includes(c)) walk(rel ? `${rel}/${c}` : c);
  };
  walk("");
  return out;
}

export function fuseMountsUnder(dir: string): string[] {
  return readMountInfo().filter((m) => m.fstype === "fuse.edgebuild" && m.mountpoint.startsWith(dir)).map((m) => m.mountpoint);
}

/** The lazy layer's own directory: a view of exactly one layer is a bind of it. */
export async function layerDir(s: { view(k: string, p?: string): Promise<{ source: string }[]> }, key: string): Promise<string> {
  const [m] = await s.view(`view of ${key} ${Math.random()}`, key);
  return m.source;
}

/** Async on purpose: the counting proxy runs on the test's thread and must keep serving meanwhile. */
export async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const f = await open(path, "r");
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await f.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await f.close();
  }
}
