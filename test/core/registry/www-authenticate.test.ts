import { describe, expect, test } from 'bun:test';
import { parseWwwAuthenticate } from '../../../core/registry/www-authenticate.ts';

describe('parseWwwAuthenticate', () => {
  test('Docker Hub bearer challenge', () => {
    expect(parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"')).toEqual([
      { scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } },
    ]);
  });
  test('basic with spaces and unquoted values', () => {
    expect(parseWwwAuthenticate('Basic realm=registry , charset="UTF-8"')).toEqual([{ scheme: 'basic', params: { realm: 'registry', charset: 'UTF-8' } }]);
  });
  test('several challenges in one header', () => {
    const r = parseWwwAuthenticate('Basic realm="a", Bearer realm="https://t/x",service="s",scope="repository:a:pull,push repository:b:pull"');
    expect(r.map((c) => c.scheme)).toEqual(['basic', 'bearer']);
    expect(r[1].params.scope).toBe('repository:a:pull,push repository:b:pull');
  });
  test('escaped quotes inside quoted strings', () => {
    expect(parseWwwAuthenticate('Bearer realm="a\\"b",error="insufficient_scope"')[0].params).toEqual({ realm: 'a"b', error: 'insufficient_scope' });
  });
  test('empty header', () => expect(parseWwwAuthenticate('')).toEqual([]));
});
