import { describe, expect, test } from 'bun:test';
import { parseAddress } from '../../../core/daemon/address.ts';

describe('parseAddress', () => {
  test('unix and tcp forms', () => {
    expect(parseAddress('unix:///run/edgebuild/edgebuild.sock')).toEqual({ kind: 'unix', path: '/run/edgebuild/edgebuild.sock' });
    expect(parseAddress('tcp://127.0.0.1:1234')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 1234 });
    expect(parseAddress('tcp://[::1]:99')).toEqual({ kind: 'tcp', host: '::1', port: 99 });
  });
  test('bad addresses are one line naming them', () => {
    expect(() => parseAddress('unix://rel.sock')).toThrow('address unix://rel.sock: unix socket path must be absolute (unix:///path)');
    expect(() => parseAddress('tcp://host')).toThrow('address tcp://host: expected tcp://HOST:PORT');
    expect(() => parseAddress('http://x')).toThrow('address "http://x": expected unix:///path or tcp://host:port');
  });
});
