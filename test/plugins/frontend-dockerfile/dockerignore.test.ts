import { describe, expect, test } from 'bun:test';
import { compileFilter, compileIgnore, mayContainIncluded, parseIgnoreFile } from '../../../plugins/frontend-dockerfile/dockerignore.ts';

const ignored = (file: string, paths: string[]) => {
  const m = compileIgnore(parseIgnoreFile(file));
  return paths.filter((p) => m(p, false));
};

describe('.dockerignore file parsing', () => {
  test('comments, blank lines, cleaning, leading / and ./, trailing /', () => {
    const text = '\uFEFF# comment\n\n  /foo/bar  \n./baz//qux/\r\n! /keep\n!./x/../y\nnode_modules/\n';
    expect(parseIgnoreFile(text)).toEqual(['foo/bar', 'baz/qux', '!keep', '!y', 'node_modules']);
  });
});

describe('.dockerignore matching (Docker documented behaviour)', () => {
  const files = ['temp', 'temp.txt', 'a/temp', 'a/temporary.txt', 'a/b/temp.txt', 'temp1', 'tempab', 'main.go', 'cmd/x/main.go', 'README.md', 'docs/a.md'];

  test('*/temp* excludes one level down only', () => {
    expect(ignored('*/temp*', files)).toEqual(['a/temp', 'a/temporary.txt']);
  });
  test('*/*/temp* excludes two levels down', () => {
    expect(ignored('*/*/temp*', files)).toEqual(['a/b/temp.txt']);
  });
  test('temp? matches one character', () => {
    expect(ignored('temp?', files)).toEqual(['temp1']);
  });
  test('**/*.go matches in every directory, the root included', () => {
    expect(ignored('**/*.go', files)).toEqual(['main.go', 'cmd/x/main.go']);
  });
  test('a/**/b spans zero or more directories', () => {
    expect(ignored('a/**/b', ['a/b', 'a/x/b', 'a/x/y/b', 'a/bb', 'b'])).toEqual(['a/b', 'a/x/b', 'a/x/y/b']);
  });
  test('** alone excludes everything', () => {
    expect(ignored('**', ['x', 'a/b/c'])).toEqual(['x', 'a/b/c']);
  });
  test('a directory pattern excludes its whole tree', () => {
    expect(ignored('node_modules', ['node_modules', 'node_modules/a/b.js', 'src/node_modules/x', 'node_modules2'])).toEqual(['node_modules', 'node_modules/a/b.js']);
  });
  test('character classes, negated with ^', () => {
    expect(ignored('[a-b].txt\n[^x]y', ['a.txt', 'c.txt', 'zy', 'xy'])).toEqual(['a.txt', 'zy']);
  });
  test('regex specials are literal', () => {
    expect(ignored('a+b.(c)', ['a+b.(c)', 'aab.(c)', 'a+bx(c)'])).toEqual(['a+b.(c)']);
  });
  test('escaped wildcard matches itself', () => {
    expect(ignored('a\\*b', ['a*b', 'axb'])).toEqual(['a*b']);
  });
  test('exceptions: last match wins (README example from the docs)', () => {
    const paths = ['a.md', 'README.md', 'README-secret.md'];
    expect(ignored('*.md\n!README*.md\nREADME-secret.md', paths)).toEqual(['a.md', 'README-secret.md']);
    expect(ignored('*.md\nREADME-secret.md\n!README*.md', paths)).toEqual(['a.md']);
  });
  test('an exception re-includes a file inside an excluded directory', () => {
    expect(ignored('dir\n!dir/keep.txt', ['dir/keep.txt', 'dir/other.txt', 'dir/sub/x'])).toEqual(['dir/other.txt', 'dir/sub/x']);
  });
  test('paths are cleaned before matching', () => {
    const m = compileIgnore(['foo/bar']);
    expect(m('./foo/bar', false)).toBe(true);
    expect(m('/foo//bar/', true)).toBe(true);
    expect(m('foo/x/../bar', false)).toBe(true);
    expect(m('.', true)).toBe(false);
  });
  test('no patterns exclude nothing', () => {
    expect(compileIgnore([])('anything', false)).toBe(false);
  });
});

describe('mayContainIncluded', () => {
  test('descends only into directories an exception can reach', () => {
    const pats = parseIgnoreFile('dir\nother\n!dir/keep.txt\n!**/*.keep');
    expect(mayContainIncluded(pats, 'dir')).toBe(true);
    expect(mayContainIncluded(parseIgnoreFile('dir\nother\n!dir/keep.txt'), 'other')).toBe(false);
    expect(mayContainIncluded(pats, 'other')).toBe(true); // via **/*.keep
    expect(mayContainIncluded(parseIgnoreFile('a\n!a/b/c'), 'a/b')).toBe(true);
    expect(mayContainIncluded(parseIgnoreFile('a\n!a/b/c'), 'a/x')).toBe(false);
    expect(mayContainIncluded(parseIgnoreFile('a\n!a/*/c'), 'a/x')).toBe(true);
  });
  test('compileFilter exposes both to the solver', () => {
    const f = compileFilter(['dir', '!dir/keep.txt']);
    expect(f.excluded('dir', true)).toBe(true);
    expect(f.excluded('dir/keep.txt', false)).toBe(false);
    expect(f.mayContainIncluded('dir')).toBe(true);
    expect(compileFilter(['dir']).mayContainIncluded('dir')).toBe(false);
  });
});
