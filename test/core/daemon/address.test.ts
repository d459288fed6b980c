import { afterAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAddress } from '../../../core/daemon/address.ts';
import { groupId } from '../../../core/daemon/server.ts';
import { tempDir, removeTempDirs } from '../../harness/temp-dir.ts';

afterAll(removeTempDirs);

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

describe('groupId (--group)', () => {
  test('names from the group file, numbers as they are, unknown names as one line', () => {
    const file = join(tempDir('group-'), 'group');
    writeFileSync(file, 'root:x:0:\nbuilders:x:1234:alice,bob\n');
    expect(groupId('builders', file)).toBe(1234);
    expect(groupId('77', file)).toBe(77);
    expect(() => groupId('nope', file)).toThrow(`--group nope: no such group in ${file}`);
  });
});
