// Messages between the main thread and the fetch thread (see fetch-thread.ts for why it exists).
import type { Credential } from "../../core/registry/credentials.ts";
import type { RegistryConfigMap } from "../../core/registry/endpoint.ts";
import type { RemoteLayer } from "../../core/snapshot/types.ts";
import type { WireToc } from "./toc-wire.ts";
import type { StargzConfig } from "./config.ts";

/** Posted first; the type is unique because fs.ts also runs inside FUSE handler workers. */
export interface FetchThreadInit {
  type: "stargz-fetch-thread-init";
  config: StargzConfig;
  registries: RegistryConfigMap;
  cacheDir: string;
  tocDir: string;
  /** One port per decoder thread (transferred). */
  decoders: MessagePort[];
}

/** Posted to each decoder thread (whose entry is lazyfs/fs.ts too). */
export interface DecoderThreadInit {
  type: "stargz-decoder-thread-init";
  port: MessagePort;
}

export interface LayerStatus {
  digest: string;
  imageRef: string;
  size: number;
  fetched: number;
  state: string;
  lastError?: string;
}

export type ToFetchThread =
  | {
      t: "open";
      req: number;
      key: string;
      layer: RemoteLayer;
      /** Credential for layer.registry, resolved by the auth plugins in the main thread. */
      credential?: Credential;
      expectedTocDigest?: string;
      channel: string;
    }
  | { t: "close"; req: number; key: string }
  /** Finish writes under way (passthrough copies) before the thread is terminated. */
  | { t: "shutdown"; req: number };

export type FromFetchThread =
  | { t: "opened"; req: number; toc: WireToc; memoryOnly: boolean }
  | { t: "failed"; req: number; message: string }
  | { t: "closed"; req: number }
  | { t: "status"; key: string; status: LayerStatus }
  | { t: "log"; message: string }
  /** An open's first requests are out (the thread is up and its modules loaded). */
  | { t: "opening"; key: string };
