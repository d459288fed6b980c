// Test tars built with tar-stream (an independent tar writer) and helpers shared by the tests.
import tarStream, { type Header } from "tar-stream";

/** tar-stream headers with `pax` typed as what it really holds. */
export type TarHeader = Omit<Header, "pax"> & { pax?: Record<string, string> | null };

export interface FixtureEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "character-device" | "block-device" | "fifo";
  data?: Uint8Array | string;
  mode?: number;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  mtime?: Date;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  pax?: Record<string, string>;
}

export async function makeTar(entries: FixtureEntry[]): Promise<Uint8Array> {
  const pack = tarStream.pack();
  const parts: Uint8Array[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on("data", (b: unknown) => void parts.push(b as Uint8Array));
    pack.on("end", () => resolve());
    pack.on("error", reject);
  });
  for (const e of entries) {
    const data = typeof e.data === "string" ? new TextEncoder().encode(e.data) : e.data;
    const type = e.type ?? "file";
    await new Promise<void>((resolve, reject) => {
      pack.entry(
        {
          name: e.name,
          type,
          size: type === "file" ? (data?.length ?? 0) : 0,
          mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
          uid: e.uid ?? 0,
          gid: e.gid ?? 0,
          uname: e.uname,
          gname: e.gname,
          mtime: e.mtime ?? new Date("2024-01-02T03:04:05Z"),
          linkname: e.linkname,
          devmajor: e.devmajor,
          devminor: e.devminor,
          pax: e.pax,
        } as Partial<Header> & { name: string },
        (type === "file" ? Buffer.from(data ?? new Uint8Array()) : undefined) as Buffer,
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }
  pack.finalize();
  await done;
  return new Uint8Array(Buffer.concat(parts));
}

/** Deterministic pseudo-random bytes (compressible enough to be realistic, not trivially). */
export function pseudoRandom(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = (x >>> 0) % 64;
  }
  return out;
}

export const LAYER = "sha256:" + "ab".repeat(32);

/** A tar with one of every kind of entry. */
export async function sampleTar(): Promise<Uint8Array> {
  return makeTar([
    { name: "etc/", type: "directory", mode: 0o755 },
    { name: "etc/hostname", data: "box\n", uid: 1000, gid: 1000, uname: "alice", gname: "staff" },
    { name: "etc/empty", data: "", uid: 1000, gid: 1000, uname: "alice", gname: "staff" },
    { name: "bin/", type: "directory" },
    { name: "bin/big", data: pseudoRandom(100_000), mode: 0o755 },
    { name: "bin/sh", type: "symlink", linkname: "big" },
    { name: "bin/hard", type: "link", linkname: "bin/big" },
    { name: "dev/", type: "directory" },
    { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
    { name: "dev/sda", type: "block-device", devmajor: 8, devminor: 0, mode: 0o660 },
    { name: "dev/fifo", type: "fifo", mode: 0o600 },
    { name: "etc/xattr", data: "x", pax: { "SCHILY.xattr.user.test": "value", "SCHILY.xattr.security.capability": "\u0001\u0002" } },
    { name: "etc/old", data: "old", mtime: new Date("1999-12-31T23:59:59Z"), uid: 1000, gid: 1000, uname: "alice", gname: "staff" },
    { name: `deep/${"d".repeat(120)}/file-with-a-long-path`, data: "long name via PAX" },
    { name: "etc/ünïcödé.txt", data: "utf-8 name" },
  ]);
}

export interface ExtractedEntry {
  header: TarHeader;
  data: Uint8Array;
}

/** Read a tar with tar-stream (independent of the code under test). */
export async function extractTar(tar: Uint8Array): Promise<ExtractedEntry[]> {
  const out: ExtractedEntry[] = [];
  const extract = tarStream.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on("entry", (header, stream, next) => {
      const parts: Uint8Array[] = [];
      stream.on("data", (b: unknown) => void parts.push(b as Uint8Array));
      stream.on("end", () => {
        out.push({ header: header as TarHeader, data: new Uint8Array(Buffer.concat(parts)) });
        next();
      });
      stream.resume();
    });
    extract.on("finish", () => resolve());
    extract.on("error", reject);
  });
  extract.end(Buffer.from(tar));
  await done;
  return out;
}

export function cleanName(name: string): string {
  return name.split("/").filter((s) => s !== "" && s !== ".").join("/");
}
