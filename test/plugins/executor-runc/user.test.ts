import { afterAll, describe, expect, test } from 'bun:test';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from '../../../plugins/executor-runc/user.ts';

const root = mkdtempSync(join(tmpdir(), 'eb-user-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
mkdirSync(join(root, 'etc'));
writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/bash\napp:x:1000:1000::/home/app:/bin/sh\n# comment\nbroken line\n');
writeFileSync(join(root, 'etc/group'), 'root:x:0:\nstaff:x:50:app,other\napp:x:1000:\ndocker:x:999:app\n');

describe('runc user resolution', () => {
  test('names, ids and groups resolve from the rootfs files', async () => {
    expect(await resolveUser(root, '')).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/root' });
    expect(await resolveUser(root, 'app')).toEqual({ uid: 1000, gid: 1000, additionalGids: [50, 999], home: '/home/app' });
    expect(await resolveUser(root, '1000')).toEqual({ uid: 1000, gid: 1000, additionalGids: [50, 999], home: '/home/app' });
    expect(await resolveUser(root, 'app:staff')).toEqual({ uid: 1000, gid: 50, additionalGids: [], home: '/home/app' });
    expect(await resolveUser(root, '4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [], home: '/' });
  });

  test('unknown names are a clear error', async () => {
    await expect(resolveUser(root, 'ghost')).rejects.toThrow('unable to find user ghost: no matching entries in passwd file');
    await expect(resolveUser(root, 'app:ghosts')).rejects.toThrow('unable to find group ghosts: no matching entries in group file');
  });

  test('an /etc/passwd symlink pointing out of the rootfs is read inside it', async () => {
    const evil = mkdtempSync(join(tmpdir(), 'eb-user-evil-'));
    try {
      mkdirSync(join(evil, 'etc'));
      symlinkSync('../../../../../../etc/os-release', join(evil, 'etc/passwd')); // the host's file must not be read
      await expect(resolveUser(evil, 'root')).rejects.toThrow('unable to find user root');
      expect(await resolveUser(evil, '0')).toEqual({ uid: 0, gid: 0, additionalGids: [], home: '/' });
    } finally {
      rmSync(evil, { recursive: true, force: true });
    }
  });
});
