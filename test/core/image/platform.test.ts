import { describe, expect, test } from 'bun:test';
import { parsePlatform, formatPlatform, platformMatches, chooseManifest, hostPlatform, normalizePlatform } from '../../../core/image/platform.ts';
import type { Descriptor } from '../../../core/image/schemas.ts';

const d = (platform: Descriptor['platform'], n: number): Descriptor => ({ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, size: 1, platform });

describe('platforms', () => {
  test('parse and normalise', () => {
    expect(parsePlatform('linux/arm64/v8')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/arm64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/aarch64')).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(parsePlatform('linux/arm')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(parsePlatform('linux/x86_64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(parsePlatform('amd64')).toEqual({ os: 'linux', architecture: 'amd64' });
    expect(formatPlatform(parsePlatform('Linux/ARM/6'))).toBe('linux/arm/v6');
    expect(() => parsePlatform('linux//x')).toThrow(/invalid platform "linux\/\/x"/);
    expect(() => parsePlatform('a/b/c/d')).toThrow(/invalid platform/);
  });
  test('host platform is normalised', () => {
    const h = hostPlatform();
    expect(h).toEqual(normalizePlatform(h));
    expect(h.os).toBe('linux');
  });
  test('matching', () => {
    expect(platformMatches(parsePlatform('linux/arm64'), { os: 'linux', architecture: 'arm64' })).toBe(true);
    expect(platformMatches(parsePlatform('linux/arm/v7'), { os: 'linux', architecture: 'arm', variant: 'v6' })).toBe(false);
    expect(platformMatches(parsePlatform('linux/amd64'), { os: 'windows', architecture: 'amd64' })).toBe(false);
  });
  test('choosing from an index', () => {
    const list = [d({ os: 'linux', architecture: 'amd64' }, 1), d({ os: 'linux', architecture: 'arm', variant: 'v6' }, 2), d({ os: 'linux', architecture: 'arm', variant: 'v7' }, 3), d({ os: 'linux', architecture: 'arm64', variant: 'v8' }, 4), d({ os: 'unknown', architecture: 'unknown' }, 5)];
    expect(chooseManifest(list, parsePlatform('linux/arm/v7'), 'x').digest).toBe(list[2].digest);
    expect(chooseManifest(list, parsePlatform('linux/arm64'), 'x').digest).toBe(list[3].digest);
    expect(chooseManifest(list, parsePlatform('linux/amd64'), 'x').digest).toBe(list[0].digest);
    expect(() => chooseManifest(list, parsePlatform('linux/s390x'), 'reg/app:1')).toThrow('reg/app:1: no manifest for platform linux/s390x (available: linux/amd64, linux/arm/v6, linux/arm/v7, linux/arm64/v8)');
  });
});
