// Record files in ctr-remote's format: JSON lines of {path, manifestDigest, layerIndex}.
import { describe, expect, test } from 'bun:test';
import { formatRecord, parseRecord, recordPaths, recordPathsByLayer, RecordFileError } from '../../../core/image/convert-record.ts';

const M = 'sha256:' + 'a'.repeat(64);

describe('record files', () => {
  test('round trip, cleaned paths, first-seen order without repeats', () => {
    const text = `{"path":"/usr/bin/python3.11","manifestDigest":"${M}","layerIndex":1}\n\n{"path":"etc/../etc/passwd","manifestDigest":"${M}","layerIndex":0}\n{"path":"usr/bin/python3.11","manifestDigest":"${M}","layerIndex":1}\n`;
    const entries = parseRecord(text, 'rec.json');
    expect(recordPaths(entries)).toEqual(['usr/bin/python3.11', 'etc/passwd']);
    expect([...recordPathsByLayer(entries, M)]).toEqual([[1, ['usr/bin/python3.11']], [0, ['etc/passwd']]]);
    expect(recordPathsByLayer(entries, 'sha256:' + 'b'.repeat(64)).size).toBe(0);
    expect(parseRecord(formatRecord(entries), 'again')).toEqual(entries);
    expect(formatRecord(entries).split('\n')[0]).toBe(`{"path":"usr/bin/python3.11","manifestDigest":"${M}","layerIndex":1}`);
    expect(recordPaths(parseRecord('[{"path":"a"},{"path":"b"}]', 'arr'))).toEqual(['a', 'b']);
  });

  test('bad records name the file and line', () => {
    expect(() => parseRecord('{"path":"a"}\nnot json\n', 'r.json')).toThrow(new RecordFileError('r.json:2: invalid JSON'));
    expect(() => parseRecord('{"path":"a","layerIndex":-1}', 'r.json')).toThrow(/^r\.json:1: .*layerIndex/);
    expect(() => parseRecord('{"nopath":1}', 'r.json')).toThrow(/^r\.json:1: /);
  });
});
