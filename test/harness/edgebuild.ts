// Runs the edgebuild CLI from source (or dist/edgebuild with EDGEBUILD_BIN) as a child process.
import { join } from 'node:path';

const repo = join(import.meta.dir, '..', '..');

export interface RunResult {
  code: number;
  out: string;
  err: string;
}

export async function edgebuild(args: string[], opts: { env?: Record<string, string>; cwd?: string; stdin?: string } = {}): Promise<RunResult> {
  const argv = process.env.EDGEBUILD_BIN ? [process.env.EDGEBUILD_BIN, ...args] : [process.execPath, join(repo, 'cli/main.ts'), ...args];
  const p = Bun.spawn(argv, { cwd: opts.cwd ?? repo, env: { ...process.env, EDGEBUILD_CONFIG: '', ...opts.env }, stdout: 'pipe', stderr: 'pipe', stdin: opts.stdin ? new TextEncoder().encode(opts.stdin) : 'ignore' });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

/** Mount points under a directory (leftover check after failures). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const text = await Bun.file('/proc/self/mountinfo').text();
  return text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[4].replace(/\\040/g, ' '))
    .filter((p) => p === dir || p.startsWith(dir + '/'));
}

/** runc containers left in edgebuild's runc state dir under a root. */
export function runcContainers(root: string): string[] {
  const p = Bun.spawnSync(['runc', '--root', join(root, 'plugins', 'executor.runc', 'state'), 'list', '-q'], { stderr: 'pipe' });
  return p.stdout.toString().split('\n').filter(Boolean);
}
