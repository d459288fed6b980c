// [worker.oci] gc in the daemon: after a build the root is pruned back under maxUsedSpace.
import { afterAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { edgebuild } from '../harness/edgebuild.ts';

const repo = join(import.meta.dir, '..', '..');
const work = fs.mkdtempSync(join(tmpdir(), 'eb-gc-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('daemon gc [slow]', () => {
  test('a build over maxUsedSpace is pruned after it finishes; du reports the rest', async () => {
    const root = join(work, 'root');
    const config = join(work, 'edgebuild.toml');
    fs.writeFileSync(config, '[worker.oci]\nsnapshotter = "native"\ngc = true\nmaxUsedSpace = "1MB"\n');
    const sock = join(work, 'd.sock');
    const daemon = Bun.spawn([process.execPath, join(repo, 'test/core/daemon/daemon-main.ts'), '--root', root, '--config', config, '--addr', `unix://${sock}`, 'daemon'], { stdout: 'pipe', stderr: 'pipe' });
    let log = '';
    void (async () => {
      for await (const c of daemon.stderr as ReadableStream<Uint8Array>) log += new TextDecoder().decode(c);
    })();
    try {
      while (!fs.existsSync(sock)) {
        if (daemon.exitCode !== null) throw new Error(log);
        await Bun.sleep(50);
      }
      const ctx = join(work, 'ctx');
      fs.mkdirSync(ctx);
      fs.writeFileSync(join(ctx, 'big.bin'), randomBytes(3_000_000));
      fs.writeFileSync(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY big.bin /\n');
      const r = await edgebuild(['--addr', `unix://${sock}`, 'build', '--progress', 'plain', ctx]);
      expect(r.code).toBe(0);
      const deadline = Date.now() + 10_000;
      while (!log.includes('gc: root used')) {
        if (Date.now() > deadline) throw new Error(`no gc ran: ${log}`);
        await Bun.sleep(100);
      }
      const du = await edgebuild(['--root', root, '--config', config, 'du']);
      expect(du.code).toBe(0);
      expect(du.out).toContain('Lazy data:');
      expect(du.out).toMatch(/Build cache: +0B/);
    } finally {
      daemon.kill('SIGTERM');
      await daemon.exited;
    }
  }, 60_000);
});
