// The daemon's HTTP routes (hono). Every request body is validated at the boundary; a bad one is a
// 400 with one line naming what was wrong.
import { Hono } from 'hono';
import * as v from 'valibot';
import { API_VERSION, BuildBodySchema, ContextManifestSchema, LOCAL_NAME_RE, SESSION_RE, issueLine, type Info } from './protocol.ts';
import { ContextError } from './context-store.ts';
import { startBuildJob } from './build-job.ts';
import { packTree } from './tar-tree.ts';
import type { DaemonState } from './state.ts';
import * as fs from 'node:fs';

const bad = (message: string, status: 400 | 404 | 409 = 400) => new Response(JSON.stringify({ error: message }) + '\n', { status, headers: { 'content-type': 'application/json' } });

async function jsonBody<T extends v.GenericSchema>(req: Request, schema: T, what: string): Promise<v.InferOutput<T> | Response> {
  let json: unknown;
  try {
    json = await req.json();
  } catch {
    return bad(`${what}: body is not valid JSON`);
  }
  const r = v.safeParse(schema, json);
  return r.success ? r.output : bad(`${what}: ${issueLine(r.issues)}`);
}

function checkIds(session: string, name: string): Response | undefined {
  if (!SESSION_RE.test(session)) return bad(`session id ${JSON.stringify(session.slice(0, 80))} is not 16-64 hex digits`);
  if (!LOCAL_NAME_RE.test(name)) return bad(`local name ${JSON.stringify(name.slice(0, 80))} is not valid`);
  return undefined;
}

export function createApi(state: DaemonState): Hono {
  const app = new Hono();

  app.get('/v1/info', (c) => c.json({ version: state.version, api: API_VERSION, snapshotter: state.worker.snapshotterId, builds: state.running() } satisfies Info));

  app.post('/v1/contexts/:session/:name/manifest', async (c) => {
    const { session, name } = c.req.param();
    const ids = checkIds(session, name);
    if (ids) return ids;
    const manifest = await jsonBody(c.req.raw, ContextManifestSchema, `context ${name} manifest`);
    if (manifest instanceof Response) return manifest;
    try {
      return c.json({ missing: await state.contexts.sync(session, name, manifest) });
    } catch (e) {
      if (e instanceof ContextError) return bad(e.message);
      throw e;
    }
  });

  app.put('/v1/contexts/:session/:name/files', async (c) => {
    const { session, name } = c.req.param();
    const ids = checkIds(session, name);
    if (ids) return ids;
    if (!c.req.raw.body) return bad(`context ${name}: empty upload`);
    try {
      await state.contexts.receive(session, name, c.req.raw.body);
      return c.body(null, 204);
    } catch (e) {
      return bad(`context ${name}: ${(e as Error).message.replace(/^context \S+: /, '')}`);
    }
  });

  app.post('/v1/builds', async (c) => {
    if (state.shutdown.aborted) return bad('daemon is shutting down', 409);
    const body = await jsonBody(c.req.raw, BuildBodySchema, 'build request');
    if (body instanceof Response) return body;
    for (const name of body.locals) if (!state.contexts.ready(body.session, name)) return bad(`build request: local ${name} was not synced for session ${body.session}`);
    const stream = startBuildJob(body, state, c.req.raw.signal);
    return new Response(stream, { headers: { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store' } });
  });

  app.get('/v1/outputs/:id', (c) => {
    const id = c.req.param('id');
    if (!/^[a-f0-9]{24}$/.test(id)) return bad(`output id ${JSON.stringify(id.slice(0, 80))} is not valid`);
    const path = state.outputs.take(id);
    if (!path || !fs.existsSync(path)) return bad(`output ${id} does not exist (already fetched or expired)`, 404);
    const isDir = fs.statSync(path).isDirectory();
    const inner = isDir ? packTree(path, undefined, true) : (Bun.file(path).stream() as ReadableStream<Uint8Array>);
    const reader = inner.getReader();
    const cleanup = () => fs.rmSync(path, { recursive: true, force: true });
    // Removed once sent (or abandoned): outputs are single use.
    const body = new ReadableStream<Uint8Array>({
      async pull(ctrl) {
        try {
          const r = await reader.read();
          if (r.done) {
            ctrl.close();
            cleanup();
          } else ctrl.enqueue(r.value);
        } catch (e) {
          cleanup();
          ctrl.error(e);
        }
      },
      cancel() {
        void reader.cancel().finally(cleanup);
      },
    });
    return new Response(body, { headers: { 'content-type': isDir ? 'application/x-tar' : 'application/octet-stream', 'x-edgebuild-output-kind': isDir ? 'dir' : 'file' } });
  });

  app.notFound(() => bad('no such endpoint', 404));
  app.onError((e) => {
    state.log(`request failed: ${e.message}`);
    return new Response(JSON.stringify({ error: e.message.split('\n')[0] }) + '\n', { status: 500, headers: { 'content-type': 'application/json' } });
  });
  return app;
}
