import { describe, expect, test } from 'bun:test';
import { parseReference, formatReference, familiarName, apiHost, isLoopbackHost } from '../../../core/registry/reference.ts';

describe('parseReference', () => {
  const cases: [string, string][] = [
    ['alpine', 'docker.io/library/alpine:latest'],
    ['alpine:3.20', 'docker.io/library/alpine:3.20'],
    ['user/app', 'docker.io/user/app:latest'],
    ['docker.io/alpine', 'docker.io/library/alpine:latest'],
    ['index.docker.io/library/alpine:1', 'docker.io/library/alpine:1'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b/c:t', 'localhost:5000/a/b/c:t'],
    ['127.0.0.1:5000/x:1', '127.0.0.1:5000/x:1'],
    ['[::1]:5000/x', '[::1]:5000/x:latest'],
    ['ghcr.io/o/r@sha256:' + 'a'.repeat(64), 'ghcr.io/o/r@sha256:' + 'a'.repeat(64)],
    ['ghcr.io/o/r:t@sha256:' + 'b'.repeat(64), 'ghcr.io/o/r:t@sha256:' + 'b'.repeat(64)],
    ['Example.COM/app', 'example.com/app:latest'],
    ['a_b__c-d/e.f', 'docker.io/a_b__c-d/e.f:latest'],
  ];
  for (const [input, want] of cases) {
    test(input, () => expect(formatReference(parseReference(input))).toBe(want));
  }

  test('fields', () => {
    expect(parseReference('127.0.0.1:5000/x/y:1')).toEqual({ registry: '127.0.0.1:5000', repository: 'x/y', tag: '1', digest: undefined });
    expect(parseReference('alpine@sha256:' + 'c'.repeat(64)).tag).toBeUndefined();
  });

  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['UPPER', /lowercase/],
    ['host:5000/App', /lowercase/],
    ['a b', /whitespace/],
    ['docker://alpine', /scheme/],
    ['alpine:', /invalid tag/],
    ['alpine:-x', /invalid tag/],
    ['alpine@sha256:abc', /invalid digest/],
    ['alpine@sha256:' + 'a'.repeat(63), /64 hex/],
    ['x//y', /component/],
    ['x/-y', /component/],
    ['host:99999/x', /invalid port/],
    ['host:5000/', /component/],
    ['a_b.c/f', /invalid registry host/],
  ];
  for (const [input, re] of bad) {
    test(`rejects ${JSON.stringify(input)}`, () => {
      expect(() => parseReference(input)).toThrow(re);
      try {
        parseReference(input);
      } catch (e) {
        expect((e as Error).message).toContain(JSON.stringify(input));
        expect((e as Error).message).not.toContain('\n');
      }
    });
  }

  test('helpers', () => {
    expect(familiarName(parseReference('alpine'))).toBe('alpine:latest');
    expect(familiarName(parseReference('user/x:1'))).toBe('user/x:1');
    expect(apiHost('docker.io')).toBe('registry-1.docker.io');
    expect(apiHost('ghcr.io')).toBe('ghcr.io');
    expect(isLoopbackHost('127.1.2.3:80')).toBe(true);
    expect(isLoopbackHost('localhost:5000')).toBe(true);
    expect(isLoopbackHost('[::1]:5000')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
    expect(isLoopbackHost('localhost.example.com')).toBe(false);
  });
});
