import { describe, expect, test } from 'bun:test';
import { formatGoDuration, parseGoDuration } from '../../../plugins/frontend-dockerfile/duration.ts';
import { goList, goQuoteList } from '../../../plugins/frontend-dockerfile/gofmt.ts';

describe('Go durations', () => {
  test.each([
    ['30s', 30e9], ['1m30s', 90e9], ['1.5h', 5400e9], ['500ms', 500e6], ['10us', 10e3], ['10µs', 10e3], ['0', 0], ['2h45m', 9900e9],
  ])('%s = %d ns', (text, ns) => {
    expect(parseGoDuration(text)).toBe(ns);
  });
  test.each(['', '5', '1d', 'ms', '1m x'])('%p is not a duration', (text) => {
    expect(parseGoDuration(text)).toBeNull();
  });
  test.each([
    [0, '0s'], [300e9, '5m0s'], [3e9, '3s'], [90e9, '1m30s'], [500e6, '500ms'], [3661e9, '1h1m1s'], [1.5e9, '1.5s'], [2500, '2.5µs'],
  ])('%d ns prints as %s', (ns, text) => {
    expect(formatGoDuration(ns)).toBe(text);
  });
});

describe('Go fmt renderings', () => {
  test('%q and %v of a []string', () => {
    expect(goQuoteList(['a b', 'say "hi"\n'])).toBe('["a b" "say \\"hi\\"\\n"]');
    expect(goList(['/a', '/b c'])).toBe('[/a /b c]');
  });
});
