// The snapshotter.stargz registration: its config takes stargz-snapshotter's names, and the host
// initialises it (or disables it with a reason) like any plugin.
import { afterAll, describe, expect, test } from "bun:test";
import { parseConfigText } from "../../../core/config/load.ts";
import { PluginHost } from "../../../core/plugin/host.ts";
import { isRemoteSnapshotter } from "../../../core/snapshot/types.ts";
import { stargzSnapshotter } from "../../../plugins/snapshotter-stargz/index.ts";
import { StargzSnapshotter } from "../../../plugins/snapshotter-stargz/snapshotter.ts";
import { removeTempDirs, tempDir } from "../../harness/temp-dir.ts";

afterAll(removeTempDirs);

const TOML = `
[plugins."snapshotter.stargz"]
prefetch_size = 1048576
prefetch_timeout_sec = 3
noprefetch = false
no_background_fetch = true
max_concurrency = 4
disable_verification = false
[plugins."snapshotter.stargz".blob]
chunk_size = 65536
max_retries = 2
[plugins."snapshotter.stargz".fuse]
passthrough = true
attr_timeout = 5
`;

describe("snapshotter.stargz registration", () => {
  test("[slow] initialises from a TOML table with stargz-snapshotter's setting names", async () => {
    const root = tempDir("host-");
    const logs: string[] = [];
    const host = new PluginHost({ root, config: parseConfigText(TOML, "test.toml"), log: (m) => logs.push(m) });
    host.register(stargzSnapshotter);
    await host.init();
    const state = host.state("snapshotter.stargz")!;
    expect(state.reason).toBeUndefined();
    expect(state.status).toBe("ok");
    expect(state.instance).toBeInstanceOf(StargzSnapshotter);
    expect(isRemoteSnapshotter(state.instance as StargzSnapshotter)).toBe(true);
    await host.close();
  });

  test("an unknown key is a config error naming it", async () => {
    const host = new PluginHost({ root: tempDir("host-"), config: parseConfigText(`[plugins."snapshotter.stargz"]\nprefetch_sizee = 1\n`, "bad.toml") });
    host.register(stargzSnapshotter);
    await expect(host.init()).rejects.toThrow(/prefetch_sizee/);
  });
});

describe("decode_threads default", () => {
  test("one per core beyond the first, at least 1, at most 2; a configured value wins", async () => {
    const { defaultDecodeThreads, StargzConfigSchema } = await import("../../../plugins/snapshotter-stargz/config.ts");
    const v = await import("valibot");
    expect([1, 2, 3, 4, 64].map((n) => defaultDecodeThreads(n))).toEqual([1, 1, 2, 2, 2]);
    expect(v.parse(StargzConfigSchema, {}).decode_threads).toBe(defaultDecodeThreads());
    expect(v.parse(StargzConfigSchema, { decode_threads: 3 }).decode_threads).toBe(3);
  });
});
