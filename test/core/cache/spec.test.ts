import { describe, expect, test } from 'bun:test';
import { parseCacheExport, parseCacheImport } from '../../../core/cache/spec.ts';

describe('cache specs', () => {
  test('buildctl forms with defaults', () => {
    expect(parseCacheExport('type=registry,ref=127.0.0.1:5000/c:x,mode=max')).toEqual({ type: 'registry', ref: '127.0.0.1:5000/c:x', mode: 'max', compression: 'gzip' });
    expect(parseCacheExport('type=local,dest=/tmp/c,compression=zstd')).toEqual({ type: 'local', dest: '/tmp/c', mode: 'min', compression: 'zstd' });
    expect(parseCacheExport('type=inline')).toEqual({ type: 'inline' });
    expect(parseCacheImport('type=registry,ref=r.example/c')).toEqual({ type: 'registry', ref: 'r.example/c' });
    expect(parseCacheImport('type=local,src=/tmp/c')).toEqual({ type: 'local', src: '/tmp/c' });
  });
  test('mistakes are one line naming the value', () => {
    expect(() => parseCacheExport('type=s3,bucket=x')).toThrow('--export-cache type=s3,bucket=x: type must be one of registry, local, inline');
    expect(() => parseCacheExport('type=registry,ref=a/b,mode=all')).toThrow('--export-cache type=registry,ref=a/b,mode=all: mode must be min or max');
    expect(() => parseCacheExport('type=local,dest=/x,ref=y')).toThrow('--export-cache type=local,dest=/x,ref=y: unknown attribute ref for type=local');
    expect(() => parseCacheImport('type=local')).toThrow('--import-cache type=local: type=local needs src=');
    expect(() => parseCacheImport('registry')).toThrow('--import-cache registry: expected key=value, got "registry"');
  });
});
