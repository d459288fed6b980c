// What a FUSE worker's chunk client tells the fetch thread, in what order: a read missing its chunk
// asks for that chunk first (the fetch thread starts the readahead after its request), and a read
// served from disk hints the readahead when the file's next chunk is absent.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { buildEstargz, bytesSource, openEstargz } from "../../../plugins/snapshotter-stargz/estargz/index.ts";
import { ChunkClient } from "../../../plugins/snapshotter-stargz/lazyfs/chunk-client.ts";
import { buildLayerIndex } from "../../../plugins/snapshotter-stargz/lazyfs/inode-tree.ts";
import { LayerIndex } from "../../../plugins/snapshotter-stargz/lazyfs/layer-index.ts";
import type { ChannelMessage, FetchRequest, LazyLayerInfo } from "../../../plugins/snapshotter-stargz/lazyfs/protocol.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";
import { layerTar, noise } from "./helpers.ts";

afterAll(removeTempDirs);

const LAYER = `sha256:${"e1".repeat(32)}`;
const CHUNK = 64 << 10;

async function setup() {
  const built = await buildEstargz(layerTar([{ name: "big", data: noise(4 * CHUNK, 3) }]), { chunkSize: CHUNK });
  const r = await openEstargz(bytesSource(built.blob!), { layerDigest: LAYER });
  const index = new LayerIndex(buildLayerIndex(r.toc));
  const info: LazyLayerInfo = {
    layerDigest: LAYER, channel: `chunk-client-test-${process.pid}-${Math.random()}`, cacheDir: tempDir("chunk-client-"),
    passthrough: false, memoryCacheBytes: 0, readaheadChunks: 2, overlayXattrPrefix: "trusted",
  };
  const client = new ChunkClient(info, index);
  // The fetch thread's side: records what comes, answers fetches by "caching" the chunks asked for.
  const seen: FetchRequest[] = [];
  const fetchThread = new BroadcastChannel(info.channel);
  fetchThread.onmessage = (e) => {
    const m = e.data as ChannelMessage;
    if (m.t !== "fetch") return;
    seen.push(m);
    if (m.hint) return;
    for (const id of m.chunks) put(id);
    fetchThread.postMessage({ t: "done", w: m.w, id: m.id } satisfies ChannelMessage);
  };
  const put = (id: number) => {
    const path = client.cachePath(id);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, new Uint8Array(index.cols.chunkSize[id]));
  };
  // "big"'s chunks (the layer's last file; the landmark file before it has one of its own).
  const first = index.cols.fileFirst[index.chunkCount - 1];
  expect(index.chunkCount - first).toBe(4);
  return { client, seen, put, ids: [0, 1, 2, 3].map((k) => first + k), close: () => fetchThread.close() };
}

describe("ChunkClient", () => {
  test("a read missing a chunk past the file's first asks for it, with no readahead hint ahead of it", async () => {
    const t = await setup();
    try {
      const [c0, c1] = t.ids;
      t.put(c0);
      const got = await t.client.read([c1], CHUNK + 10, CHUNK + 100);
      expect(got.byteLength).toBe(90);
      expect(t.seen.map((m) => ({ hint: !!m.hint, chunks: m.chunks }))).toEqual([{ hint: false, chunks: [c1] }]);
    } finally {
      t.close();
    }
  });

  test("a read served from disk hints the readahead once when the file's next chunk is absent", async () => {
    const t = await setup();
    try {
      const [, c1, c2] = t.ids;
      t.put(c1);
      await t.client.read([c1], CHUNK, CHUNK + 100);
      await t.client.read([c1], CHUNK + 100, CHUNK + 200);
      await Bun.sleep(20);
      expect(t.seen.map((m) => ({ hint: !!m.hint, chunks: m.chunks }))).toEqual([{ hint: true, chunks: [c1] }]);
      t.put(c2);
      expect(t.client.readLocal([c2], 2 * CHUNK, 2 * CHUNK + 10)).toBeUndefined(); // next chunk absent: to a worker, which hints
    } finally {
      t.close();
    }
  });
});
