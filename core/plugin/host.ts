// The plugin host: registrations sorted by what they require, initialised in that order. A plugin
// whose init fails is marked error (or disabled) with its reason and the rest keep working.
import * as v from 'valibot';
import { join, resolve } from 'node:path';
import type { EdgebuildConfig } from '../config/schema.ts';
import { ConfigError } from '../config/load.ts';
import { formatIssue } from '../config/issues.ts';
import { phase } from '../progress/phases.ts';
import {
  PLUGIN_KINDS,
  PluginDisabled,
  type PluginKey,
  type PluginKind,
  type PluginRegistration,
  type PluginState,
} from './types.ts';

export interface HostOptions {
  root: string;
  config: EdgebuildConfig;
  configPath?: string;
  log?: (message: string) => void;
}

const keyOf = (r: { kind: PluginKind; id: string }): PluginKey => `${r.kind}.${r.id}`;

export class PluginHost {
  private readonly registrations: { reg: PluginRegistration<any, any>; external?: string }[] = [];
  private readonly states = new Map<PluginKey, PluginState>();
  private initialised = false;

  constructor(private readonly opts: HostOptions) {}

  register(reg: PluginRegistration<any, any>, external?: string): void {
    if (!PLUGIN_KINDS.includes(reg.kind)) throw new Error(`plugin ${reg.id}: unknown kind ${JSON.stringify(reg.kind)}`);
    if (this.registrations.some((r) => keyOf(r.reg) === keyOf(reg))) {
      throw new Error(`plugin ${keyOf(reg)} is registered twice${external ? ` (again by ${external})` : ''}`);
    }
    this.registrations.push({ reg, external });
  }

  /** Loads `[[plugins.external]]` modules; each exports `default` or `plugins` registrations. */
  async loadExternal(): Promise<void> {
    const base = this.opts.configPath ? join(this.opts.configPath, '..') : process.cwd();
    for (const { path } of this.opts.config.plugins.external ?? []) {
      const abs = resolve(base, path);
      let mod: Record<string, unknown>;
      try {
        mod = await import(abs);
      } catch (e) {
        throw new ConfigError(`external plugin ${abs}: cannot load: ${(e as Error).message.split('\n')[0]}`);
      }
      const regs = ([] as unknown[]).concat(mod.plugins ?? mod.default ?? []);
      if (regs.length === 0) throw new ConfigError(`external plugin ${abs}: exports no registration (export default or plugins)`);
      for (const reg of regs as PluginRegistration[]) {
        if (!reg || typeof reg.init !== 'function' || typeof reg.id !== 'string') {
          throw new ConfigError(`external plugin ${abs}: a registration lacks id or init`);
        }
        this.register(reg, abs);
      }
    }
  }

  /** Validates every `[plugins."kind.id"]` table up front: config errors stop the program. */
  private pluginConfig(reg: PluginRegistration<any, any>): { enabled: boolean; config: unknown } {
    const key = keyOf(reg);
    const file = this.opts.configPath ?? '(defaults)';
    const raw = (this.opts.config.plugins as Record<string, unknown>)[key] ?? {};
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(`config ${file}: key plugins."${key}": expected table, got ${typeof raw}`);
    }
    const { enabled = true, ...rest } = raw as Record<string, unknown>;
    if (typeof enabled !== 'boolean') {
      throw new ConfigError(`config ${file}: key plugins."${key}".enabled: expected boolean, got ${typeof enabled}`);
    }
    if (!reg.config) {
      const extra = Object.keys(rest)[0];
      if (extra) throw new ConfigError(`config ${file}: unknown key plugins."${key}".${extra} (plugin takes no settings)`);
      return { enabled, config: {} };
    }
    const parsed = v.safeParse(reg.config, rest);
    if (!parsed.success) throw new ConfigError(`config ${file}: ${formatIssue(parsed.issues[0], `plugins."${key}"`)}`);
    return { enabled, config: parsed.output };
  }

  private checkUnknownPluginTables(): void {
    const known = new Set(this.registrations.map((r) => keyOf(r.reg) as string));
    for (const k of Object.keys(this.opts.config.plugins)) {
      if (k === 'external') continue;
      if (!known.has(k)) {
        const file = this.opts.configPath ?? '(defaults)';
        throw new ConfigError(`config ${file}: unknown plugin plugins."${k}" (see \`edgebuild plugins ls\`)`);
      }
    }
  }

  /**
   * Initialises every plugin once the plugins it requires are done; independent ones run at the
   * same time (several probe the system: an overlay mount, /dev/fuse, runc), so start-up costs
   * the longest chain instead of the sum.
   */
  async init(): Promise<void> {
    if (this.initialised) return;
    this.initialised = true;
    this.checkUnknownPluginTables();
    const configs = new Map(this.registrations.map((r) => [keyOf(r.reg), this.pluginConfig(r.reg)]));
    const done = new Map<PluginKey, Promise<void>>();
    for (const r of this.order()) {
      // order() lists requirements first: theirs are in `done` already.
      const deps = this.requirements(r).map((d) => done.get(keyOf(d.reg))!);
      done.set(keyOf(r.reg), Promise.all(deps).then(() => this.initOne(r, configs.get(keyOf(r.reg))!)));
    }
    await Promise.all(done.values());
  }

  private async initOne({ reg, external }: (typeof this.registrations)[number], { enabled, config }: { enabled: boolean; config: unknown }): Promise<void> {
    const key = keyOf(reg);
    const state: PluginState = { key, kind: reg.kind, id: reg.id, status: 'ok', external };
    // Listed once settled, so nothing sees a plugin half way through its init; the order of
    // listing (which close() reverses) has every plugin after those it requires.
    try {
      if (!enabled) {
        Object.assign(state, { status: 'disabled', reason: 'disabled in config' });
        return;
      }
      const missing = this.unmetRequirement(reg);
      if (missing) {
        Object.assign(state, { status: 'disabled', reason: missing });
        return;
      }
      state.instance = await reg.init({
        config,
        root: this.opts.root,
        pluginRoot: join(this.opts.root, 'plugins', key),
        global: this.opts.config,
        get: <T>(k: PluginKey) => this.get<T>(k),
        all: <T>(kind: PluginKind) => this.all<T>(kind),
        log: (m) => this.opts.log?.(`${key}: ${m}`),
      });
    } catch (e) {
      const disabled = e instanceof PluginDisabled;
      Object.assign(state, { status: disabled ? 'disabled' : 'error', reason: (e as Error).message.split('\n')[0] });
    } finally {
      this.states.set(key, state);
      phase(`plugin ${key}`);
    }
  }

  private unmetRequirement(reg: PluginRegistration<any, any>): string | undefined {
    for (const req of reg.requires ?? []) {
      if ((PLUGIN_KINDS as readonly string[]).includes(req)) continue; // a kind: any number will do
      const st = this.states.get(req as PluginKey);
      if (!st) return `requires ${req}, which is not registered`;
      if (st.status !== 'ok') return `requires ${req}, which is ${st.status}${st.reason ? ` (${st.reason})` : ''}`;
    }
    return undefined;
  }

  /** The registrations `r` requires: every one of a required kind, or the one named. */
  private requirements(r: (typeof this.registrations)[number]): typeof this.registrations {
    return (r.reg.requires ?? []).flatMap((req) =>
      (PLUGIN_KINDS as readonly string[]).includes(req) ? this.registrations.filter((x) => x.reg.kind === req && x !== r) : this.registrations.filter((x) => keyOf(x.reg) === req),
    );
  }

  /** Dependency order (stable: registration order among equals). Cycles are reported as errors. */
  private order() {
    const out: typeof this.registrations = [];
    const mark = new Map<string, 'visiting' | 'done'>();
    const visit = (r: (typeof this.registrations)[number], path: string[]) => {
      const key = keyOf(r.reg);
      if (mark.get(key) === 'done') return;
      if (mark.get(key) === 'visiting') throw new ConfigError(`plugins require each other in a cycle: ${[...path, key].join(' → ')}`);
      mark.set(key, 'visiting');
      for (const d of this.requirements(r)) visit(d, [...path, key]);
      mark.set(key, 'done');
      out.push(r);
    };
    for (const r of this.registrations) visit(r, []);
    return out;
  }

  get<T>(key: PluginKey): T {
    const st = this.states.get(key);
    if (!st) throw new Error(`plugin ${key} is not registered (see \`edgebuild plugins ls\`)`);
    if (st.status !== 'ok') throw new Error(`plugin ${key} is ${st.status}: ${st.reason ?? ''}`.trim());
    return st.instance as T;
  }

  /** The state of one plugin without throwing (undefined when not registered). */
  state(key: PluginKey): PluginState | undefined {
    return this.states.get(key);
  }

  all<T>(kind: PluginKind): { id: string; instance: T }[] {
    return [...this.states.values()]
      .filter((s) => s.kind === kind && s.status === 'ok')
      .map((s) => ({ id: s.id, instance: s.instance as T }));
  }

  list(): PluginState[] {
    return [...this.states.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  }

  /** Calls `close()` on instances that have one, in reverse init order. */
  async close(): Promise<void> {
    for (const st of [...this.states.values()].reverse()) {
      const inst = st.instance as { close?: () => unknown } | undefined;
      if (st.status === 'ok' && typeof inst?.close === 'function') {
        try {
          await inst.close();
        } catch (e) {
          this.opts.log?.(`${st.key}: close failed: ${(e as Error).message}`);
        }
        phase(`closed ${st.key}`);
      }
    }
  }
}
