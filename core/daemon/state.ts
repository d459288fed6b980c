// What the daemon's routes share: the plugin host, one worker for every build (one content store,
// one image provider, so concurrent builds never download a blob twice), contexts and outputs.
import type { PluginHost } from '../plugin/host.ts';
import type { LocalWorker } from '../worker/local.ts';
import type { ContextStore } from './context-store.ts';
import type { OutputStore } from './outputs.ts';

export interface DaemonState {
  version: string;
  host: PluginHost;
  worker: LocalWorker;
  contexts: ContextStore;
  outputs: OutputStore;
  /** Aborted on SIGTERM: running builds cancel. */
  shutdown: AbortSignal;
  /** Keeps the root within budget after a build (no-op when [worker.oci] gc is off). */
  afterBuild(): Promise<void>;
  /** Registers a running build so shutdown can wait for it. */
  track(p: Promise<void>): void;
  running(): number;
  log(line: string): void;
}
