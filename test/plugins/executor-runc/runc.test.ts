import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecRequest } from '../../../core/executor/types.ts';
import { diffOverlayUpper } from '../../../core/layer/diff.ts';
import { mountPoints } from '../../../core/snapshot/mount.ts';
import type { Mount } from '../../../core/snapshot/types.ts';
import { RuncExecutor } from '../../../plugins/executor-runc/executor.ts';
import { runcList } from '../../../plugins/executor-runc/runc.ts';
import { debianRootfs } from '../../harness/rootfs.ts';
import { listTar } from '../../core/layer/fixtures.ts';

const work = mkdtempSync(join(tmpdir(), 'eb-runc-test-'));
const pluginRoot = join(work, 'plugin');
let base = '';
let exec: RuncExecutor;
let n = 0;

beforeAll(async () => {
  base = await debianRootfs();
  exec = new RuncExecutor({ runc: '/usr/sbin/runc', root: pluginRoot });
}, 600_000);

afterAll(() => {
  if (mountPoints().some((p) => p.startsWith(work))) throw new Error(`mounts left under ${work}`);
  rmSync(work, { recursive: true, force: true });
});

/** A writable rootfs: the cached Debian tree as lowerdir, a fresh upperdir. */
function rootfs(): { upper: string; mounts: Mount[] } {
  const d = join(work, `snap-${n++}`);
  mkdirSync(join(d, 'upper'), { recursive: true });
  mkdirSync(join(d, 'work'));
  return { upper: join(d, 'upper'), mounts: [{ type: 'overlay', source: 'overlay', options: [`lowerdir=${base}`, `upperdir=${d}/upper`, `workdir=${d}/work`] }] };
}

async function run(req: Partial<ExecRequest> & { args: string[] }, mounts = rootfs().mounts) {
  let out = '';
  let err = '';
  const dec = new TextDecoder();
  const res = await exec.run({
    env: [],
    cwd: '/',
    user: 'root',
    network: 'none',
    mounts: [{ destination: '/', mounts }],
    stdout: (c) => (out += dec.decode(c)),
    stderr: (c) => (err += dec.decode(c)),
    ...req,
  });
  return { ...res, out, err };
}

/** Nothing of ours may be left: no mounts, no containers, no bundles. */
async function expectClean() {
  expect(mountPoints().filter((p) => p.startsWith(pluginRoot))).toEqual([]);
  expect(await runcList(exec.cli)).toEqual([]);
  expect(readdirSync(exec.bundlesDir)).toEqual([]);
}

describe('executor runc', () => {
  test('[slow] runs a shell with user, cwd and env, and returns its exit code', async () => {
    const r = await run({ args: ['/bin/sh', '-c', 'echo hi; id; pwd; echo "$GREETING $HOME"; hostname; exit 3'], user: 'nobody', cwd: '/work/dir', env: ['GREETING=hello'], hostname: 'box' });
    expect(r.exitCode).toBe(3);
    expect(r.out).toBe('hi\nuid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)\n/work/dir\nhello /nonexistent\nbox\n');
    const r2 = await run({ args: ['/bin/sh', '-c', 'id; echo $PATH'], user: '1000:1000' });
    expect(r2.out).toBe('uid=1000 gid=1000 groups=1000\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n');
    await expectClean();
  });

  test('[slow] network none has only lo, and it is up', async () => {
    const r = await run({ args: ['/bin/sh', '-c', 'ls /sys/class/net; cat /sys/class/net/lo/flags'] });
    expect(r.out).toBe('lo\n0x9\n');
    const host = await run({ args: ['/bin/sh', '-c', 'ls /sys/class/net | wc -l'], network: 'default' });
    expect(Number(host.out.trim())).toBe(readdirSync('/sys/class/net').length);
  });

  test('[slow] the seccomp filter refuses new user namespaces and keyrings, not fork', async () => {
    // unshare(1) from util-linux; the keyctl probe uses perl, both in the minbase rootfs.
    const r = await run({ args: ['/bin/sh', '-c', 'unshare --user true 2>&1; echo "unshare=$?"; perl -e \'print syscall(250, 0) == -1 ? "keyctl=$!\\n" : "keyctl=ok\\n"\'; perl -e \'print "fork=", (fork() // -1) >= 0 ? "ok" : "no", "\\n"\''] });
    expect(r.out).toContain('unshare=1');
    expect(r.out).toContain('keyctl=Operation not permitted');
    expect(r.out).toContain('fork=ok');
  });

  test('[slow] a secret is readable in the container and absent from the diff', async () => {
    const { upper, mounts } = rootfs();
    const r = await run(
      {
        args: ['/bin/sh', '-c', 'cat /run/secrets/token; echo; stat -c %a:%u /run/secrets/token; echo made > /tmp/made; ls /run/secrets'],
        user: 'nobody',
        secrets: [{ destination: '/run/secrets/token', data: new TextEncoder().encode('s3cr3t'), uid: 65534 }],
        tmpfs: [{ destination: '/scratch', size: 1 << 20 }],
      },
      mounts,
    );
    expect(r.err).toBe('');
    expect(r.out).toBe('s3cr3t\n400:65534\ntoken\n');
    const files = (await listTar(diffOverlayUpper(upper).stream)).filter((e) => e.type !== 'dir').map((e) => e.name);
    expect(files).toEqual(['tmp/made']);
    await expectClean();
  });

  test('[slow] extra mounts: a read-only bind and an overlay of other snapshots, no stubs left', async () => {
    const src = join(work, `ctx-${n++}`);
    mkdirSync(join(src, 'a'), { recursive: true });
    writeFileSync(join(src, 'a/file'), 'from context');
    const other = rootfs();
    const { upper, mounts } = rootfs();
    const r = await run(
      {
        args: ['/bin/sh', '-c', 'cat /ctx/a/file; echo; cat /other/etc/debian_version | cut -c1-3; echo x > /ctx/new || echo ro-ok; echo y > /other/rw && echo rw-ok'],
        mounts: [
          { destination: '/', mounts },
          { destination: '/ctx', mounts: [{ type: 'bind', source: src, options: ['rbind'] }], readonly: true },
          { destination: '/other', mounts: other.mounts },
        ],
      },
      mounts,
    );
    expect(r.out).toBe('from context\n12.\nro-ok\nrw-ok\n');
    expect(readdirSync(other.upper)).toEqual(['rw']);
    const files = (await listTar(diffOverlayUpper(upper, { lowers: [base] }).stream)).map((e) => e.name);
    expect(files).toEqual([]);
    await expectClean();
  });

  test('[slow] a command that cannot start is an error naming it, and cleans up', async () => {
    await expect(run({ args: ['/no/such/binary'] })).rejects.toThrow(/^runc: .*\/no\/such\/binary.*no such file or directory/);
    await expect(run({ args: ['true'], user: 'ghost' })).rejects.toThrow('unable to find user ghost: no matching entries in passwd file');
    await expectClean();
  });

  test('[slow] abort kills the container and cleans up', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    setTimeout(() => ac.abort(new Error('build cancelled')), 500);
    await expect(run({ args: ['/bin/sleep', '60'], signal: ac.signal })).rejects.toThrow('build cancelled');
    expect(Date.now() - t0).toBeLessThan(10_000);
    await expectClean();
  });

  test('[slow] cleanupStale removes what a killed process left behind', async () => {
    // A separate process starts a long container and is SIGKILLed mid-run.
    const script = `
      import { RuncExecutor } from ${JSON.stringify(join(import.meta.dir, '../../../plugins/executor-runc/executor.ts'))};
      const exec = new RuncExecutor({ runc: '/usr/sbin/runc', root: ${JSON.stringify(pluginRoot)} });
      const mounts = ${JSON.stringify(rootfs().mounts)};
      exec.run({ args: ['/bin/sh', '-c', 'echo started; sleep 60'], env: [], cwd: '/', user: 'root', network: 'none',
        mounts: [{ destination: '/', mounts }], stdout: (c) => process.stdout.write(c) });
    `;
    const child = Bun.spawn([process.execPath, '-e', script], { stdout: 'pipe', stderr: 'inherit' });
    const reader = child.stdout.getReader();
    const first = await reader.read();
    expect(new TextDecoder().decode(first.value)).toContain('started');
    child.kill('SIGKILL');
    await child.exited;
    expect((await runcList(exec.cli)).length).toBe(1);
    expect(mountPoints().some((p) => p.startsWith(pluginRoot))).toBe(true);
    const cleaned = await exec.cleanupStale();
    expect(cleaned.length).toBe(1);
    await expectClean();
  });
  test('[slow] cleanupStale leaves the containers of a live process alone', async () => {
    const ac = new AbortController();
    let started!: () => void;
    const isUp = new Promise<void>((r) => (started = r));
    const running = run({ args: ['/bin/sh', '-c', 'echo up; sleep 60'], signal: ac.signal, stdout: () => started() });
    await isUp;
    const other = new RuncExecutor({ runc: '/usr/sbin/runc', root: pluginRoot });
    expect(await other.cleanupStale()).toEqual([]);
    expect((await runcList(exec.cli)).map((c) => c.status)).toEqual(['running']);
    ac.abort(new Error('done'));
    await expect(running).rejects.toThrow('done');
    await expectClean();
  });
});
