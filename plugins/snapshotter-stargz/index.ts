// snapshotter.stargz: overlay snapshots plus lazily mounted eStargz layers (issue 5).
import { closeSync, openSync } from "node:fs";
import type { CredentialSource } from "../../core/registry/credentials.ts";
import type { LayerSnapshotter } from "../../core/layer/types.ts";
import { PluginDisabled, type PluginRegistration } from "../../core/plugin/types.ts";
import type { RemoteSnapshotter } from "../../core/snapshot/types.ts";
import { overlayProblem } from "../snapshotter-overlay/check.ts";
import { StargzConfigSchema, type StargzConfig } from "./config.ts";
import { StargzSnapshotter } from "./snapshotter.ts";

function fuseProblem(): string | undefined {
  try {
    closeSync(openSync("/dev/fuse", "r+"));
    return undefined;
  } catch (e) {
    return `/dev/fuse is not usable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
  }
}

export const stargzSnapshotter: PluginRegistration<StargzConfig, RemoteSnapshotter & LayerSnapshotter> = {
  kind: "snapshotter",
  id: "stargz",
  description: "overlay snapshots with eStargz layers mounted lazily from the registry over FUSE",
  requires: ["auth"],
  config: StargzConfigSchema,
  async init(ctx) {
    const problem = fuseProblem() ?? (await overlayProblem(ctx.pluginRoot));
    if (problem) throw new PluginDisabled(problem);
    return new StargzSnapshotter({
      root: ctx.pluginRoot,
      config: ctx.config,
      registries: ctx.global.registry,
      credentials: ctx.all<CredentialSource>("auth").map((p) => p.instance),
      log: (m) => ctx.log(m),
    });
  },
};

export default stargzSnapshotter;
