// One build on the daemon: the request becomes a BuildRequest reading the session's synced
// contexts, runs on the shared worker with the client's credentials in scope, and streams its
// progress as NDJSON. The client going away aborts it (the solver and executor take the signal).
import type { BuildBody, BuildEnd, OutputRef } from './protocol.ts';
import type { BuildRequest } from '../build/run.ts';
import { runBuild } from '../build/run.ts';
import { ProgressStream, type ProgressEvent } from '../progress/events.ts';
import { hostPlatform } from '../image/platform.ts';
import { compileFilter } from '../../plugins/frontend-dockerfile/dockerignore.ts';
import { withSessionCredentials } from './session-auth.ts';
import type { DaemonState } from './state.ts';

const enc = new TextEncoder();

export function startBuildJob(body: BuildBody, state: DaemonState, clientSignal: AbortSignal): ReadableStream<Uint8Array> {
  const abort = new AbortController();
  const onClientGone = () => abort.abort(new Error('client disconnected'));
  clientSignal.addEventListener('abort', onClientGone, { once: true });
  const stopDaemon = () => abort.abort(new Error('daemon is shutting down'));
  state.shutdown.addEventListener('abort', stopDaemon, { once: true });

  const locals: Record<string, string> = {};
  for (const name of body.locals) locals[name] = state.contexts.path(body.session, name);
  const { specs, refs, paths } = state.outputs.redirect(body.outputs);
  const secrets: Record<string, Uint8Array> = {};
  for (const [id, b64] of Object.entries(body.secrets)) secrets[id] = new Uint8Array(Buffer.from(b64, 'base64'));
  const req: BuildRequest = { frontend: body.frontend, opts: body.opts, locals, secrets, outputs: specs, noCache: body.noCache, cacheExports: body.cacheExports, cacheImports: body.cacheImports };

  let ctrl!: ReadableStreamDefaultController<Uint8Array>;
  let open = true;
  const send = (obj: ProgressEvent | BuildEnd) => {
    if (!open) return;
    try {
      ctrl.enqueue(enc.encode(JSON.stringify(obj) + '\n'));
    } catch {
      open = false;
    }
  };
  const progress = new ProgressStream();
  for (const c of Object.values(body.credentials)) progress.redact('password' in c ? c.password : c.identityToken);
  progress.subscribe(send);

  const id = `${body.session.slice(0, 12)}`;
  const run = async (): Promise<void> => {
    let refsOut: OutputRef[] = [];
    const started = Date.now();
    state.log(`build ${id}: started (${body.frontend}, outputs: ${body.outputs.map((o) => o.type).join(', ') || 'none'}${Object.keys(body.credentials).length ? `, credentials for ${Object.keys(body.credentials).join(', ')}` : ''})`);
    try {
      const outcome = await withSessionCredentials(body.credentials, () =>
        runBuild(req, {
          host: state.host,
          worker: state.worker,
          progress,
          hostPlatform: hostPlatform(),
          compileFilter,
          signal: abort.signal,
          cache: { client: state.worker.client, store: state.worker.store },
        }),
      );
      refsOut = refs;
      state.outputs.publish(refs);
      send({ type: 'build.done', exports: outcome.exports, outputs: refsOut });
      state.log(`build ${id}: done in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    } catch (e) {
      state.outputs.discard(paths);
      const msg = abort.signal.aborted ? `build cancelled: ${(abort.signal.reason as Error)?.message ?? 'aborted'}` : (e as Error).message;
      state.log(`build ${id}: failed: ${msg.split('\n')[0]}`);
      send({ type: 'build.failed', error: msg });
    } finally {
      clientSignal.removeEventListener('abort', onClientGone);
      state.shutdown.removeEventListener('abort', stopDaemon);
      if (open) {
        open = false;
        try {
          ctrl.close();
        } catch {
          // already closed by the client going away
        }
      }
      await state.afterBuild().catch((e) => state.log(`gc after build failed: ${(e as Error).message}`));
    }
  };

  return new ReadableStream<Uint8Array>({
    start(c) {
      ctrl = c;
      state.track(run());
    },
    cancel() {
      open = false;
      onClientGone();
    },
  });
}
