import { describe, expect, test } from 'bun:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseConfigText } from '../../../core/config/load.ts';

describe('config', () => {
  test('defaults without a file', () => {
    const { config, path } = loadConfig(undefined);
    expect(path === undefined || path.startsWith('/etc/')).toBe(true);
    if (!path) expect(config.worker.oci.snapshotter).toBe('auto');
  });

  test('buildkitd.toml-like registry and worker settings', () => {
    const c = parseConfigText(
      `[registry."docker.io"]\nmirrors = ["127.0.0.1:5001"]\n[registry."r.local:5000"]\nhttp = true\ninsecure = true\nca = ["/etc/ca.pem"]\n[worker.oci]\nsnapshotter = "stargz"\n`,
      'x.toml',
    );
    expect(c.registry['docker.io'].mirrors).toEqual(['127.0.0.1:5001']);
    expect(c.registry['r.local:5000']).toEqual({ mirrors: [], http: true, insecure: true, ca: ['/etc/ca.pem'] });
    expect(c.worker.oci.snapshotter).toBe('stargz');
  });

  test.each([
    ['[registry."a"]\nhttp = "yes"\n', 'config f.toml: key registry.a.http: expected boolean, got string "yes"'],
    ['[registry."a:5000"]\nmirror = []\n', 'config f.toml: unknown key registry."a:5000".mirror'],
    ['[worker.oci]\nsnapshotter = "zfs"\n', 'config f.toml: key worker.oci.snapshotter: expected ("auto" | "overlay" | "native" | "stargz"), got string "zfs"'],
    ['nonsense = 1\n', 'config f.toml: unknown key nonsense'],
    ['[registry\n', 'config f.toml: invalid TOML:'],
  ])('rejects %p with one line naming file and key', (text, message) => {
    expect(() => parseConfigText(text, 'f.toml')).toThrow(message);
  });

  test('a config file that cannot be read names the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-cfg-'));
    expect(() => loadConfig(join(dir, 'missing.toml'))).toThrow(`config ${join(dir, 'missing.toml')}: cannot read: ENOENT`);
    writeFileSync(join(dir, 'ok.toml'), '[worker.oci]\nsnapshotter = "native"\n');
    expect(loadConfig(join(dir, 'ok.toml')).config.worker.oci.snapshotter).toBe('native');
  });
});
