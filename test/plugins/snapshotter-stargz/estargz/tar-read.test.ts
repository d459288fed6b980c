import { describe, expect, test } from "bun:test";
import { parseTar, TarScanner, type TarEntry } from "../../../../plugins/snapshotter-stargz/estargz/tar-read.ts";
import { sampleTar } from "./fixtures.ts";

describe("tar parsing", () => {
  test("streaming in odd-sized pieces gives the same entries and data as parsing in memory", async () => {
    const tar = await sampleTar();
    const whole = parseTar(tar);
    const data = new Map<TarEntry, Uint8Array[]>();
    const scanner = new TarScanner((e, b) => data.set(e, [...(data.get(e) ?? []), b.slice()]));
    const streamed: TarEntry[] = [];
    for (let p = 0; p < tar.length; p += 7) streamed.push(...scanner.push(tar.subarray(p, p + 7)));
    scanner.end();
    expect(streamed).toEqual(whole);
    for (const e of streamed) {
      const got = Buffer.concat(data.get(e) ?? []);
      expect(got.equals(Buffer.from(tar.subarray(e.dataStart, e.dataStart + e.size)))).toBe(true);
    }
    expect(whole.find((e) => e.name.endsWith("file-with-a-long-path"))!.name).toBe(`deep/${"d".repeat(120)}/file-with-a-long-path`);
    expect(new TextDecoder().decode(whole.find((e) => e.name === "etc/xattr")!.xattrs.get("user.test"))).toBe("value");
  }, 60_000); // CPU-bound: slow only when the machine is loaded

  test("a truncated archive and a bad checksum are errors", async () => {
    const tar = await sampleTar();
    expect(() => parseTar(tar.subarray(0, 1000))).toThrow("archive truncated");
    const bad = new Uint8Array(tar);
    bad[0] ^= 1;
    expect(() => parseTar(bad)).toThrow("tar header at 0: checksum mismatch");
  });
});
