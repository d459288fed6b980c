// The runc command line, always with a --root of our own so other runc users are never touched.
import * as v from 'valibot';

export interface RuncCli {
  binary: string;
  /** runc's state dir (--root). */
  stateDir: string;
}

async function runc(cli: RuncCli, args: string[]): Promise<{ code: number; out: string; err: string }> {
  const p = Bun.spawn([cli.binary, '--root', cli.stateDir, ...args], { stdin: 'ignore', stdout: 'pipe', stderr: 'pipe' });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, out, err };
}

export async function runcKill(cli: RuncCli, id: string): Promise<boolean> {
  return (await runc(cli, ['kill', id, 'KILL'])).code === 0;
}

/** Deletes a container whatever its state; true when it is gone (or never existed). */
export async function runcDelete(cli: RuncCli, id: string): Promise<boolean> {
  const r = await runc(cli, ['delete', '--force', id]);
  return r.code === 0 || /does not exist|not exist/.test(r.err);
}

const ListSchema = v.nullable(v.array(v.looseObject({ id: v.string(), status: v.optional(v.string()) })));

export async function runcList(cli: RuncCli): Promise<{ id: string; status?: string }[]> {
  const r = await runc(cli, ['list', '--format', 'json']);
  if (r.code !== 0) throw new Error(`runc --root ${cli.stateDir} list: ${r.err.trim() || `exit ${r.code}`}`);
  const parsed = v.safeParse(ListSchema, JSON.parse(r.out || 'null'));
  if (!parsed.success) throw new Error(`runc --root ${cli.stateDir} list: unexpected output: ${parsed.issues[0].message}`);
  return parsed.output ?? [];
}

const LogLine = v.looseObject({ level: v.optional(v.string()), msg: v.optional(v.string()) });

/** runc's own error messages from its --log file (JSON lines), as opposed to the process's output. */
export function runcErrors(logText: string): string[] {
  const out: string[] = [];
  for (const line of logText.split('\n')) {
    if (!line.trim()) continue;
    try {
      const p = v.safeParse(LogLine, JSON.parse(line));
      if (p.success && (p.output.level === 'error' || p.output.level === 'fatal') && p.output.msg) out.push(p.output.msg);
    } catch {
      // A non-JSON line (a panic): keep it as is.
      out.push(line.trim());
    }
  }
  return out;
}
