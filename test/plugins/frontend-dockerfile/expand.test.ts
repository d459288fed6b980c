import { describe, expect, test } from 'bun:test';
import { expandWord, expandWords } from '../../../plugins/frontend-dockerfile/expand.ts';

const env = new Map([
  ['PWD', '/home'],
  ['EMPTY', ''],
  ['X', 'val'],
  ['PATHV', '/usr/local/bin:/usr/bin'],
  ['FILE', 'archive.tar.gz'],
]);
const x = (w: string, opts = {}) => expandWord(w, env, opts);

describe('expandWord (BuildKit shell lexer rules)', () => {
  test.each([
    ['hello', 'hello'],
    ["he'll'o", 'hello'],
    ["he\\'llo", "he'llo"],
    ['abc\\\\def', 'abc\\def'],
    ['"abc\\def"', 'abc\\def'],
    ["'abc\\def'", 'abc\\def'],
    ['"a\\"b"', 'a"b'],
    ['"a\\$b"', 'a$b'],
    ['$PWD', '/home'],
    ['${PWD}', '/home'],
    ['x${PWD}y', 'x/homey'],
    ['$PWD/sub', '/home/sub'],
    ['\\$PWD', '$PWD'],
    ["'$PWD'", '$PWD'],
    ['"$PWD"', '/home'],
    ['"${PWD}x"', '/homex'],
    ['$UNSET', ''],
    ['a$UNSET.b', 'a.b'],
    ['$', '$'],
    ['a $ b', 'a $ b'],
    ['$1', ''],
    ['$@x', 'x'],
    ['${UNSET:-def}', 'def'],
    ['${EMPTY:-def}', 'def'],
    ['${EMPTY-def}', ''],
    ['${UNSET-def}', 'def'],
    ['${X:-def}', 'val'],
    ['${X:+alt}', 'alt'],
    ['${EMPTY:+alt}', ''],
    ['${EMPTY+alt}', 'alt'],
    ['${UNSET+alt}', ''],
    ['${UNSET:-${X}}', 'val'],
    ['${UNSET:-a b}', 'a b'],
    ['${UNSET:-"q}"}', 'q}'],
    ['${UNSET:-\\}}', '}'],
    ['${X:?must be set}', 'val'],
    ['${FILE#*.}', 'tar.gz'],
    ['${FILE##*.}', 'gz'],
    ['${FILE%.*}', 'archive.tar'],
    ['${FILE%%.*}', 'archive'],
    ['${PATHV%%:*}', '/usr/local/bin'],
    ['a\\', 'a'],
    ['\\a\\b', 'ab'],
    ['${X}${X}', 'valval'],
  ])('%s → %s', (input, want) => {
    expect(x(input)).toBe(want);
  });

  test.each([
    ["he'llo", 'single-quote'],
    ['"abc', 'double-quote'],
    ['${}', 'bad substitution'],
    ['${X', "missing '}'"],
    ['${X:=y}', 'unsupported modifier (:=) in substitution'],
    ['${X=y}', 'unsupported modifier (=) in substitution'],
    ['${:x}', 'bad substitution'],
    ['${', "missing '}'"],
    ['${X:-abc', "missing '}'"],
    ['${UNSET:?must be set}', 'UNSET: must be set'],
    ['${EMPTY:?}', 'EMPTY: is not allowed to be empty'],
    ['${UNSET?}', 'UNSET: is not allowed to be unset'],
  ])('%s fails (%s)', (input, msg) => {
    expect(() => x(input)).toThrow(msg);
  });

  test('${EMPTY?} accepts a set-but-empty variable', () => {
    expect(x('${EMPTY?}')).toBe('');
  });

  test('backtick escape token: backslashes are literal, ` escapes', () => {
    expect(x('C:\\path\\$X', { escape: '`' })).toBe('C:\\path\\val');
    expect(x('a`$X', { escape: '`' })).toBe('a$X');
    expect(x('"a`"b"', { escape: '`' })).toBe('a"b');
  });

  test('skipUnset keeps unset variables as written', () => {
    expect(x('$UNSET ${UNSET} $X', { skipUnset: true })).toBe('$UNSET ${UNSET} val');
  });

  test('rawQuotes and rawEscapes keep quoting characters', () => {
    expect(x(`'a' "b$X" \\c`, { rawQuotes: true, rawEscapes: true })).toBe(`'a' "bval" \\c`);
  });

  test('skipQuotes (heredoc bodies): quotes are literal, the escape token escapes any character', () => {
    expect(x(`echo "$X" '$X' \\$X \\n`, { skipQuotes: true })).toBe(`echo "val" 'val' $X n`);
  });

  test('skipUnset keeps modifier forms of unset variables as written', () => {
    expect(x('${UNSET:-d} ${UNSET#x} ${X:-d}', { skipUnset: true })).toBe('${UNSET:-d} ${UNSET#x} val');
  });

  test.each([
    ['${PATHV/bin/sbin}', '/usr/local/sbin:/usr/bin'],
    ['${PATHV//bin/sbin}', '/usr/local/sbin:/usr/sbin'],
    ['${PATHV//\\//_}', '_usr_local_bin:_usr_bin'],
    ['${FILE/*./}', 'gz'],
    ['${UNSET/a/b}', ''],
  ])('substitution %s → %s', (input, want) => {
    expect(x(input)).toBe(want);
  });

  test('pattern escapes: \\* is a literal star, other escapes are errors', () => {
    expect(expandWord('${S#a\\*}', new Map([['S', 'a*b']]))).toBe('b');
    expect(() => x('${FILE#\\q}')).toThrow("invalid escape '\\q'");
  });
});

describe('expandWords', () => {
  test('splits on unquoted whitespace only', () => {
    expect(expandWords(`a "b c" d\\ e`, env)).toEqual(['a', 'b c', 'd e']);
  });
  test('empty words are dropped, as BuildKit does', () => {
    expect(expandWords(`"" x $EMPTY y`, env)).toEqual(['x', 'y']);
  });
  test('unquoted expansions are split into words, quoted ones are not', () => {
    const e = new Map([['V', 'a b']]);
    expect(expandWords('$V "$V" c', e)).toEqual(['a', 'b', 'a b', 'c']);
    expect(expandWords('${UNSET:-a b} c', env)).toEqual(['a', 'b', 'c']);
  });
});
