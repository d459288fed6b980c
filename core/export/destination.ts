// Where a file-producing exporter writes: a path (temp sibling, then renamed into place) or "-"
// for stdout (streamed; nothing to undo).
import { createWriteStream } from 'node:fs';
import { lstat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { writeAtomically } from './atomic.ts';

export async function writeToDestination(exporter: string, dest: string, stdout: Writable, write: (out: Writable) => Promise<void>): Promise<void> {
  if (dest === '-') {
    await write(stdout);
    return;
  }
  if ((await lstat(dest).catch(() => undefined))?.isDirectory()) {
    throw new Error(`exporter ${exporter}: dest ${dest} is a directory (expected a file path or -)`);
  }
  await writeAtomically(dest, async (tmp) => {
    const out = createWriteStream(tmp, { mode: 0o644 });
    try {
      await write(out);
      out.end();
      await finished(out);
    } catch (e) {
      out.destroy();
      await finished(out).catch(() => {});
      throw e;
    }
  });
}
