// What a state root must look like after an edgebuild run that followed a crash: every blob
// verifies, nothing half-done is left (ingest files, temp dirs, active snapshots, mounts, runc
// containers), and `du` works and agrees with the content store.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { edgebuild, mountsUnder, runcContainers } from '../harness/edgebuild.ts';

export async function stateProblems(root: string, snapshotter?: string): Promise<string[]> {
  const problems: string[] = [];
  const blobDir = join(root, 'content', 'blobs', 'sha256');
  const blobs = existsSync(blobDir) ? readdirSync(blobDir) : [];
  let bytes = 0;
  for (const name of blobs) {
    const data = readFileSync(join(blobDir, name));
    bytes += data.length;
    if (createHash('sha256').update(data).digest('hex') !== name) problems.push(`blob ${name} fails its digest`);
  }
  const emptyDir = (rel: string) => {
    const p = join(root, rel);
    if (existsSync(p) && readdirSync(p).length) problems.push(`${rel} not empty: ${readdirSync(p).join(', ')}`);
  };
  emptyDir('content/ingest');
  emptyDir('tmp');
  const mounts = await mountsUnder(root);
  if (mounts.length) problems.push(`mounts left: ${mounts.join(', ')}`);
  const containers = runcContainers(root);
  if (containers.length) problems.push(`runc containers left: ${containers.join(', ')}`);
  for (const sn of ['overlay', 'native']) {
    const meta = join(root, 'plugins', `snapshotter.${sn}`, 'metadata.json');
    if (!existsSync(meta)) continue;
    const snaps = JSON.parse(readFileSync(meta, 'utf8')).snapshots as Record<string, { kind: string; id: number }>;
    const busy = Object.entries(snaps).filter(([, s]) => s.kind !== 'committed').map(([k]) => k);
    if (busy.length) problems.push(`${sn}: active/view snapshots left: ${busy.join(', ')}`);
    const dirs = readdirSync(join(root, 'plugins', `snapshotter.${sn}`, 'snapshots'));
    const ids = new Set(Object.values(snaps).map((s) => String(s.id)));
    const stray = dirs.filter((d) => !ids.has(d));
    if (stray.length) problems.push(`${sn}: snapshot dirs without a record: ${stray.join(', ')}`);
  }
  const du = await edgebuild(['--root', root, 'du', '--json', ...(snapshotter ? ['--snapshotter', snapshotter] : [])]);
  if (du.code !== 0) problems.push(`du failed: ${du.err.trim()}`);
  else {
    const { content } = JSON.parse(du.out) as { content: { blobs: number; bytes: number } };
    if (content.blobs !== blobs.length || content.bytes !== bytes) problems.push(`du says ${content.blobs} blobs / ${content.bytes} bytes, store has ${blobs.length} / ${bytes}`);
  }
  return problems;
}
