import { describe, expect, test } from 'bun:test';
import * as v from 'valibot';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PluginHost } from '../../../core/plugin/host.ts';
import { PluginDisabled, type PluginRegistration } from '../../../core/plugin/types.ts';
import { parseConfigText } from '../../../core/config/load.ts';

const hostWith = (toml: string, regs: PluginRegistration<any, any>[], configPath = '/etc/eb.toml') => {
  const host = new PluginHost({ root: '/tmp/eb-root', config: parseConfigText(toml, configPath), configPath });
  for (const r of regs) host.register(r);
  return host;
};

describe('plugin host', () => {
  test('initialises in dependency order and hands out required instances', async () => {
    const order: string[] = [];
    const regs: PluginRegistration<any, any>[] = [
      { kind: 'snapshotter', id: 'stargz', requires: ['executor.runc', 'auth'], init: (ctx) => (order.push('stargz'), { runc: ctx.get('executor.runc'), auth: ctx.all('auth').length }) },
      { kind: 'auth', id: 'a', init: () => (order.push('auth'), {}) },
      { kind: 'executor', id: 'runc', init: () => (order.push('runc'), { name: 'runc' }) },
    ];
    const host = hostWith('', regs);
    await host.init();
    expect(order).toEqual(['runc', 'auth', 'stargz']);
    expect(host.get<{ runc: { name: string }; auth: number }>('snapshotter.stargz')).toEqual({ runc: { name: 'runc' }, auth: 1 });
  });

  test('independent plugins initialise at the same time; a plugin waits for what it requires; close goes in reverse', async () => {
    const events: string[] = [];
    let bStarted!: () => void;
    const bStart = new Promise<void>((r) => (bStarted = r));
    const closer = (name: string) => ({ close: () => void events.push(`close ${name}`) });
    const regs: PluginRegistration<any, any>[] = [
      {
        kind: 'snapshotter',
        id: 'a',
        // Finishes only once b has started: sequential inits would time out here.
        init: async () => {
          events.push('start a');
          await Promise.race([bStart, Bun.sleep(2000).then(() => Promise.reject(new Error('b did not start while a was initialising')))]);
          events.push('end a');
          return closer('a');
        },
      },
      { kind: 'executor', id: 'b', init: async () => (events.push('start b'), bStarted(), await Bun.sleep(20), events.push('end b'), closer('b')) },
      { kind: 'exporter', id: 'c', requires: ['snapshotter.a'], init: (ctx) => (events.push(`start c (a ${ctx.get('snapshotter.a') ? 'ready' : 'missing'})`), closer('c')) },
    ];
    const host = hostWith('', regs);
    await host.init();
    expect(host.list().map((s) => `${s.key}:${s.status}:${s.reason ?? ''}`)).toEqual(['executor.b:ok:', 'exporter.c:ok:', 'snapshotter.a:ok:']);
    expect(events).toEqual(['start a', 'start b', 'end a', 'start c (a ready)', 'end b']);
    events.length = 0;
    await host.close();
    expect(events).toEqual(['close b', 'close c', 'close a']);
  });

  test('a failing or disabled plugin is reported and the rest keep working', async () => {
    const host = hostWith('', [
      { kind: 'snapshotter', id: 'stargz', init: () => { throw new PluginDisabled('/dev/fuse is missing'); } },
      { kind: 'exporter', id: 'broken', init: () => { throw new Error('boom\nstack'); } },
      { kind: 'exporter', id: 'needs', requires: ['exporter.broken'], init: () => ({}) },
      { kind: 'exporter', id: 'local', init: () => ({ ok: 1 }) },
    ]);
    await host.init();
    const rows = Object.fromEntries(host.list().map((s) => [s.key, `${s.status}:${s.reason ?? ''}`]));
    expect(rows['snapshotter.stargz']).toBe('disabled:/dev/fuse is missing');
    expect(rows['exporter.broken']).toBe('error:boom');
    expect(rows['exporter.needs']).toBe('disabled:requires exporter.broken, which is error (boom)');
    expect(rows['exporter.local']).toBe('ok:');
    expect(() => host.get('exporter.broken')).toThrow('plugin exporter.broken is error: boom');
  });

  test('config enables, disables and configures plugins through their schema', async () => {
    const schema = v.strictObject({ prefetch_size: v.optional(v.number(), 10) });
    let seen: unknown;
    const reg: PluginRegistration<any, any> = { kind: 'snapshotter', id: 'stargz', config: schema, init: (ctx) => { seen = ctx.config; return {}; } };
    await hostWith('[plugins."snapshotter.stargz"]\nprefetch_size = 5\n', [reg]).init();
    expect(seen).toEqual({ prefetch_size: 5 });
    const off = hostWith('[plugins."snapshotter.stargz"]\nenabled = false\n', [reg]);
    await off.init();
    expect(off.state('snapshotter.stargz')?.reason).toBe('disabled in config');
  });

  test('wrong plugin settings name the file and key', async () => {
    const reg: PluginRegistration<any, any> = { kind: 'snapshotter', id: 'stargz', config: v.strictObject({ prefetch_size: v.optional(v.number()) }), init: () => ({}) };
    await expect(hostWith('[plugins."snapshotter.stargz"]\nprefetch_size = "x"\n', [reg]).init()).rejects.toThrow(
      'config /etc/eb.toml: key plugins."snapshotter.stargz".prefetch_size: expected number, got string "x"',
    );
    await expect(hostWith('[plugins."snapshotter.stargz"]\nprefetch = 1\n', [reg]).init()).rejects.toThrow('unknown key plugins."snapshotter.stargz".prefetch');
    await expect(hostWith('[plugins."snapshotter.nope"]\n', [reg]).init()).rejects.toThrow('unknown plugin plugins."snapshotter.nope"');
  });

  test('require cycles are an error naming the cycle', async () => {
    const host = hostWith('', [
      { kind: 'exporter', id: 'a', requires: ['exporter.b'], init: () => ({}) },
      { kind: 'exporter', id: 'b', requires: ['exporter.a'], init: () => ({}) },
    ]);
    await expect(host.init()).rejects.toThrow('cycle: exporter.a → exporter.b → exporter.a');
  });

  test('external plugins load from a path relative to the config file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-ext-'));
    writeFileSync(join(dir, 'x.ts'), "export default { kind: 'exporter', id: 'ext', init: () => ({ hello: 'world' }) };\n");
    const host = hostWith('[[plugins.external]]\npath = "x.ts"\n', [], join(dir, 'edgebuild.toml'));
    await host.loadExternal();
    await host.init();
    expect(host.get<{ hello: string }>('exporter.ext').hello).toBe('world');
    expect(host.state('exporter.ext')?.external).toBe(join(dir, 'x.ts'));
    const bad = hostWith('[[plugins.external]]\npath = "missing.ts"\n', [], join(dir, 'edgebuild.toml'));
    await expect(bad.loadExternal()).rejects.toThrow(`external plugin ${join(dir, 'missing.ts')}: cannot load`);
  });
});
