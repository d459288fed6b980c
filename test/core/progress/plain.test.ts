import { expect, test } from 'bun:test';
import { ProgressStream } from '../../../core/progress/events.ts';
import { plainRenderer } from '../../../core/progress/plain.ts';
import { rawJsonRenderer } from '../../../core/progress/rawjson.ts';

test('plain progress has BuildKit\'s shape and never shows redacted values', async () => {
  let text = '';
  let json = '';
  const ps = new ProgressStream();
  ps.subscribe(plainRenderer((s) => (text += s)));
  ps.subscribe(rawJsonRenderer((s) => (json += s)));
  ps.redact('s3cr3t-value');
  ps.cached('a', '[dev 1/3] FROM base');
  await ps.vertex('b', '[dev 2/3] RUN echo hi', async (p) => {
    p.log('hi\npartial');
    p.log(' line s3cr3t-');
    p.log('value\n');
  });
  await expect(ps.vertex('c', '[dev 3/3] RUN exit 3', async () => { throw new Error('process "/bin/sh -c exit 3" did not complete successfully: exit code: 3'); })).rejects.toThrow();
  const lines = text.split('\n');
  expect(lines[0]).toBe('#1 [dev 1/3] FROM base');
  expect(lines[1]).toBe('#1 CACHED');
  expect(lines[2]).toBe('');
  expect(lines[3]).toBe('#2 [dev 2/3] RUN echo hi');
  expect(lines[4]).toMatch(/^#2 \d+\.\d{3} hi$/);
  expect(lines[5]).toMatch(/^#2 \d+\.\d{3} partial line \*\*\*\*$/);
  expect(lines[6]).toMatch(/^#2 DONE \d+\.\ds$/);
  expect(lines[8]).toBe('#3 [dev 3/3] RUN exit 3');
  expect(lines[9]).toBe('#3 ERROR: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3');
  expect(text).not.toContain('s3cr3t');
  expect(json).not.toContain('s3cr3t');
  expect(json.trim().split('\n').map((l) => JSON.parse(l).type)).toContain('vertex.cached');
});
