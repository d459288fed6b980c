// A build on a daemon: sync the local directories, send the request with the client's registry
// credentials, replay the daemon's progress events into the local renderers, then fetch each
// client-side output (local dir, tar/oci/docker file) and write it atomically where asked.
import * as fs from 'node:fs';
import { dirname, join, basename } from 'node:path';
import { randomBytes } from 'node:crypto';
import * as v from 'valibot';
import type { BuildRequest } from '../build/run.ts';
import type { ProgressStream } from '../progress/events.ts';
import type { EdgebuildConfig } from '../config/schema.ts';
import { API_VERSION, InfoSchema, BuildEndSchema, ProgressEventSchema, StreamLineSchema, CLIENT_SIDE_OUTPUTS, type BuildBody, type BuildEnd, type OutputRef } from '../daemon/protocol.ts';
import { extractTree } from '../daemon/tar-tree.ts';
import { compileFilter, parseIgnoreFile } from '../../plugins/frontend-dockerfile/dockerignore.ts';
import { DaemonConnection, DaemonError, errorLine } from './connection.ts';
import { contextManifest, sessionId, syncContext } from './context-sync.ts';
import { clientCredentials, registryHosts } from './credentials.ts';

export interface RemoteBuildOptions {
  conn: DaemonConnection;
  config: EdgebuildConfig;
  progress: ProgressStream;
  signal?: AbortSignal;
  log: (line: string) => void;
}

export type RemoteOutcome = Extract<BuildEnd, { type: 'build.done' }>;

function readText(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function runRemoteBuild(req: BuildRequest, opts: RemoteBuildOptions): Promise<RemoteOutcome> {
  const { conn, progress, signal } = opts;
  const filename = req.opts.filename ?? 'Dockerfile';
  const dockerfileDir = req.locals.dockerfile ?? req.locals.context;
  const names = Object.keys(req.locals).sort();
  const session = sessionId(names.map((n) => `${n}=${req.locals[n]}`));
  // Reach the daemon first, so an unreachable one is one line before any progress.
  const info = await conn.json<unknown>('/v1/info', { signal });
  const parsed = v.safeParse(InfoSchema, info);
  if (!parsed.success || parsed.output.api !== API_VERSION) throw new DaemonError(`daemon at ${conn.addr} speaks a different API (want version ${API_VERSION})`);

  // Contexts: .dockerignore applied here so excluded files never leave the client; the ignore
  // file itself always goes (the daemon's frontend reads it), and the dockerfile local carries
  // only the Dockerfile and its own ignore file.
  const ignoreText = readText(join(dockerfileDir, `${filename}.dockerignore`)) ?? readText(join(req.locals.context, '.dockerignore'));
  const filter = ignoreText ? compileFilter(parseIgnoreFile(ignoreText)) : undefined;
  for (const name of names) {
    const dir = req.locals[name];
    const entries =
      name === 'dockerfile'
        ? contextManifest(dir, undefined, [filename, `${filename}.dockerignore`])
        : name === 'context'
          ? [...contextManifest(dir, filter), ...(filter?.excluded('.dockerignore', false) ? contextManifest(dir, undefined, ['.dockerignore']) : [])]
          : contextManifest(dir);
    await progress.vertex(`context-${name}`, `[internal] load build context ${name}`, async (p) => {
      const res = await syncContext(conn, session, name, dir, entries, signal);
      p.log(`${res.files} files, sent ${res.sent} (${res.bytes} bytes)\n`);
    });
  }

  const dockerfile = readText(join(dockerfileDir, filename)) ?? '';
  const credentials = await clientCredentials(opts.config, registryHosts(dockerfile, req));
  const body: BuildBody = {
    session,
    frontend: req.frontend,
    opts: req.opts,
    locals: names,
    secrets: Object.fromEntries(Object.entries(req.secrets).map(([k, b]) => [k, Buffer.from(b).toString('base64')])),
    outputs: req.outputs,
    noCache: req.noCache,
    cacheExports: req.cacheExports ?? [],
    cacheImports: req.cacheImports ?? [],
    credentials,
  };
  const res = await conn.fetch('/v1/builds', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
  if (!res.ok || !res.body) throw new DaemonError(await errorLine(res));
  const end = await readStream(res.body, progress);
  if (!end) throw new DaemonError('daemon: build stream ended without a result (daemon stopped?)');
  if (end.type === 'build.failed') throw new DaemonError(end.error);
  for (const ref of end.outputs) await fetchOutput(conn, ref, req.outputs[ref.index], signal);
  return end;
}

/** NDJSON lines → progress events, until the build's end line. */
async function readStream(body: ReadableStream<Uint8Array>, progress: ProgressStream): Promise<BuildEnd | undefined> {
  const decoder = new TextDecoder();
  let buf = '';
  let end: BuildEnd | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      throw new DaemonError(`daemon: malformed progress line ${JSON.stringify(line.slice(0, 80))}`);
    }
    const r = v.safeParse(StreamLineSchema, json);
    if (!r.success) throw new DaemonError(`daemon: unexpected progress line ${JSON.stringify(line.slice(0, 80))}`);
    if (v.is(ProgressEventSchema, r.output)) progress.emit(r.output);
    else if (v.is(BuildEndSchema, r.output)) end = r.output;
  };
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      handle(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
    }
  }
  handle(buf);
  return end;
}

/** Downloads one output into a temp sibling of its destination, then renames it into place. */
async function fetchOutput(conn: DaemonConnection, ref: OutputRef, spec: BuildRequest['outputs'][number], signal?: AbortSignal): Promise<void> {
  if (!CLIENT_SIDE_OUTPUTS.has(spec.type) || spec.attrs.dest === undefined) return;
  const dest = spec.attrs.dest;
  const res = await conn.fetch(`/v1/outputs/${ref.id}`, { signal });
  if (!res.ok || !res.body) throw new DaemonError(await errorLine(res));
  if (dest === '-') {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) process.stdout.write(chunk);
    return;
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.edgebuild-${randomBytes(4).toString('hex')}`);
  fs.mkdirSync(dirname(dest), { recursive: true });
  try {
    if (ref.kind === 'dir') {
      fs.mkdirSync(tmp);
      await extractTree(tmp, res.body, { special: true });
      // A directory destination is replaced as a whole, as the in-process exporter does.
      const old = fs.existsSync(dest) ? `${tmp}.old` : undefined;
      if (old) fs.renameSync(dest, old);
      fs.renameSync(tmp, dest);
      if (old) fs.rmSync(old, { recursive: true, force: true });
    } else {
      await Bun.write(tmp, new Response(res.body));
      fs.renameSync(tmp, dest);
    }
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw new DaemonError(`writing output ${spec.type} to ${dest}: ${(e as Error).message}`);
  }
}
