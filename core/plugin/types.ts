// A plugin is a plain object: its kind, id, what it requires, a valibot schema for its config and
// one init function (after containerd's registrations and Rollup's plain-object plugins).
import type * as v from 'valibot';

export type PluginKind = 'frontend' | 'snapshotter' | 'exporter' | 'compressor' | 'auth' | 'executor';
export const PLUGIN_KINDS: readonly PluginKind[] = ['frontend', 'snapshotter', 'exporter', 'compressor', 'auth', 'executor'];

/** "kind.id", e.g. "snapshotter.stargz". */
export type PluginKey = `${PluginKind}.${string}`;

export interface InitContext<C> {
  /** The plugin's own config, parsed by its schema (defaults applied). */
  config: C;
  /** State directory of the whole process (--root). */
  root: string;
  /** A directory of this plugin's own under the root (created on demand by the plugin). */
  pluginRoot: string;
  /** Instances of required plugins, by key ("executor.runc") or for a whole kind ("auth"). */
  get<T>(key: PluginKey): T;
  /** All ok instances of one kind, in registration order. */
  all<T>(kind: PluginKind): { id: string; instance: T }[];
  /** The whole parsed edgebuild config (registry hosts, worker settings). */
  global: import('../config/schema.ts').EdgebuildConfig;
  log(message: string): void;
}

export interface PluginRegistration<C = unknown, I = unknown> {
  kind: PluginKind;
  id: string;
  description?: string;
  /** Keys ("executor.runc") or kinds ("auth") that must be initialised first. A missing or failed
   *  requirement disables this plugin with that reason. Kinds are satisfied by ≥0 ok plugins. */
  requires?: (PluginKey | PluginKind)[];
  /** Schema of `[plugins."kind.id"]` minus `enabled`; must accept `{}` (defaults). */
  config?: v.GenericSchema<unknown, C>;
  /** Returns the instance; throw to mark the plugin `error`, or throw PluginDisabled for `disabled`. */
  init(ctx: InitContext<C>): Promise<I> | I;
}

/** Thrown by init when the plugin cannot work here (e.g. no /dev/fuse): status "disabled". */
export class PluginDisabled extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'PluginDisabled';
  }
}

export type PluginStatus = 'ok' | 'disabled' | 'error';

export interface PluginState {
  key: PluginKey;
  kind: PluginKind;
  id: string;
  status: PluginStatus;
  reason?: string;
  instance?: unknown;
  external?: string; // path for external plugins
}
