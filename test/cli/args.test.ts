import { describe, expect, test } from 'bun:test';
import { parseFlags, parseKeyValues } from '../../cli/args.ts';
import { extractGlobalFlags } from '../../cli/main.ts';

describe('cli arguments', () => {
  test('global flags work before or after the command', () => {
    expect(extractGlobalFlags(['--root', 'D', 'pull', 'R'])).toEqual({ globals: { root: 'D', debug: false, help: false, version: false }, rest: ['pull', 'R'] });
    expect(extractGlobalFlags(['pull', '--root=D', 'R', '--debug']).globals).toMatchObject({ root: 'D', debug: true });
    expect(extractGlobalFlags(['build', '--', '--root', 'x']).rest).toEqual(['build', '--', '--root', 'x']);
  });

  test('command flags: repeatable, inline values, unknown flags named', () => {
    const specs = [
      { name: 'local', type: 'list' as const },
      { name: 'file', short: 'f', type: 'string' as const },
      { name: 'no-cache', type: 'boolean' as const },
    ];
    const p = parseFlags('build', ['--local', 'context=.', '--local=dockerfile=.', '-f', 'X', '--no-cache', 'ctx'], specs);
    expect(p.flags).toEqual({ local: ['context=.', 'dockerfile=.'], file: 'X', 'no-cache': true });
    expect(p.positionals).toEqual(['ctx']);
    expect(() => parseFlags('build', ['--nope'], specs)).toThrow('build: unknown flag --nope');
    expect(() => parseFlags('build', ['--file'], specs)).toThrow('build: flag --file needs a value');
  });

  test('key=value lists as buildctl --output takes them', () => {
    expect(parseKeyValues('type=image,name="a,b",push=true', '--output')).toEqual({ type: 'image', name: 'a,b', push: 'true' });
    expect(() => parseKeyValues('type', '--output')).toThrow('--output: expected key=value, got "type"');
  });
});
