// Smoke test of the compiled single-file binary, not only the TypeScript sources.
import { beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repo = join(import.meta.dir, '..', '..');
const bin = join(repo, 'dist', 'edgebuild');
const run = (...args: string[]) => {
  const p = Bun.spawnSync([bin, ...args], { env: { ...process.env, EDGEBUILD_CONFIG: '' } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
};

describe('dist/edgebuild [slow]', () => {
  beforeAll(() => {
    // scripts/setup.sh keeps dist/ fresh; build here too so the test runs on its own.
    const b = Bun.spawnSync(['npm', 'run', '--silent', 'build'], { cwd: repo });
    if (b.exitCode !== 0 || !existsSync(bin)) throw new Error(`build failed: ${b.stderr}`);
  }, 120_000);

  test('--version, --help and a command --help', () => {
    expect(run('--version').out).toMatch(/^edgebuild \d+\.\d+\.\d+ \(bun /);
    const help = run('--help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('Usage: edgebuild [global flags] <command>');
    expect(run('plugins', '--help').out).toContain('Usage: edgebuild plugins ls');
  });

  test('plugins ls lists built-in plugins with their status', () => {
    const r = run('--root', mkdtempSync(join(tmpdir(), 'eb-root-')), 'plugins', 'ls');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^KIND +ID +STATUS +REASON$/);
  });

  test('bad input: one line, non-zero exit', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-cfg-'));
    writeFileSync(join(dir, 'bad.toml'), '[worker.oci]\nsnapshoter = "overlay"\n');
    const r = run('plugins', 'ls', '--config', join(dir, 'bad.toml'));
    expect(r.code).toBe(1);
    expect(r.err).toBe(`edgebuild: config ${join(dir, 'bad.toml')}: unknown key worker.oci.snapshoter\n`);
    const u = run('frobnicate');
    expect(u.code).toBe(2);
    expect(u.err).toBe('edgebuild: unknown command "frobnicate" (see `edgebuild --help`)\n');
  });

  test('an external plugin is loaded by the compiled binary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'eb-ext-'));
    writeFileSync(join(dir, 'hello.ts'), "export default { kind: 'exporter', id: 'hello', init: () => ({}) };\n");
    writeFileSync(join(dir, 'edgebuild.toml'), '[[plugins.external]]\npath = "hello.ts"\n');
    const r = run('--config', join(dir, 'edgebuild.toml'), '--root', dir, 'plugins', 'ls');
    expect(r.out).toMatch(new RegExp(`exporter +hello +ok +\\[${join(dir, 'hello.ts').replace(/[/.]/g, '\\$&')}\\]`));
  });
});
