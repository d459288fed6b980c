// A gRPC server over cleartext HTTP/2 (h2c) on a unix socket, with node:http2 (Bun implements it;
// Bun.serve has no h2c). Unary and server-streaming methods; each request carries one message.
import http2 from 'node:http2';
import net from 'node:net';
import { chmodSync, lstatSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { FrameDecoder, encodeFrame } from './frame.ts';
import { ProtobufError } from './protobuf.ts';
import { Code, GrpcError, encodeGrpcMessage } from './status.ts';

export interface CallContext {
  /** "/package.Service/Method". */
  path: string;
  /** Aborted when the client cancels or disconnects. */
  signal: AbortSignal;
  /** Extra trailers sent with the status (custom metadata; keys lower-case). */
  trailers: Record<string, string>;
}

export type UnaryHandler = (request: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;
export type StreamHandler = (request: Uint8Array, ctx: CallContext) => AsyncIterable<Uint8Array>;

export interface GrpcService {
  /** Full service name, e.g. "containerd.services.snapshots.v1.Snapshots". */
  name: string;
  unary?: Record<string, UnaryHandler>;
  serverStream?: Record<string, StreamHandler>;
}

export interface GrpcServer {
  socketPath: string;
  /** Stops accepting, cancels running calls and removes the socket. */
  close(): Promise<void>;
}

export interface GrpcServerOptions {
  /** Called for each failed call (method, status, message). */
  onError?: (path: string, code: number, message: string) => void;
  /** Socket file mode (default 0o660). */
  mode?: number;
}

/** Maps a thrown value to a status: GrpcError keeps its code, decode errors are INVALID_ARGUMENT. */
function toStatus(e: unknown): GrpcError {
  if (e instanceof GrpcError) return e;
  if (e instanceof ProtobufError) return new GrpcError(Code.INVALID_ARGUMENT, e.message);
  return new GrpcError(Code.UNKNOWN, (e as Error)?.message?.split('\n')[0] ?? String(e));
}

/** Refuses to take over a socket another process is serving; removes a stale one. */
async function clearStaleSocket(path: string): Promise<void> {
  let st;
  try {
    st = lstatSync(path);
  } catch {
    return;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket`);
  const live = await new Promise<boolean>((resolve) => {
    const c = net.connect(path);
    c.once('connect', () => (c.destroy(), resolve(true)));
    c.once('error', () => resolve(false));
  });
  if (live) throw new Error(`${path}: another process is already serving on this socket`);
  rmSync(path, { force: true });
}

export async function startGrpcServer(socketPath: string, services: GrpcService[], opts: GrpcServerOptions = {}): Promise<GrpcServer> {
  const unary = new Map<string, UnaryHandler>();
  const streaming = new Map<string, StreamHandler>();
  for (const s of services) {
    for (const [m, h] of Object.entries(s.unary ?? {})) unary.set(`/${s.name}/${m}`, h);
    for (const [m, h] of Object.entries(s.serverStream ?? {})) streaming.set(`/${s.name}/${m}`, h);
  }
  const live = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (session) => {
    live.add(session);
    session.on('close', () => live.delete(session));
    session.on('error', () => {}); // a client that vanishes mid-frame must not take the server down
  });
  server.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
    const path = String(headers[':path'] ?? '');
    stream.on('error', () => {});
    const fail = (err: GrpcError) => {
      opts.onError?.(path, err.code, err.message);
      if (stream.destroyed || stream.closed) return;
      if (stream.headersSent) {
        // Headers went out (a stream that failed half-way): the status goes in the trailers.
        if (!stream.writableEnded) stream.end();
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(err.code), 'grpc-message': encodeGrpcMessage(err.message) }, { endStream: true });
    };
    const ctype = String(headers['content-type'] ?? '');
    if (headers[':method'] !== 'POST' || !ctype.startsWith('application/grpc')) {
      stream.respond({ ':status': 415, 'content-type': 'text/plain' }, { endStream: true });
      return;
    }
    const uh = unary.get(path);
    const sh = streaming.get(path);
    if (!uh && !sh) return fail(new GrpcError(Code.UNIMPLEMENTED, `unknown method ${path}`));

    const abort = new AbortController();
    stream.on('close', () => abort.abort(new GrpcError(Code.CANCELLED, `${path}: client went away`)));
    const decoder = new FrameDecoder(`request ${path}`);
    const messages: Uint8Array[] = [];
    let broken: GrpcError | undefined;
    stream.on('data', (chunk: Buffer) => {
      if (broken) return;
      try {
        messages.push(...decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
      } catch (e) {
        broken = toStatus(e);
      }
    });
    stream.on('end', async () => {
      if (broken) return fail(broken);
      try {
        decoder.end();
      } catch (e) {
        return fail(toStatus(e));
      }
      if (messages.length !== 1) return fail(new GrpcError(Code.INTERNAL, `${path}: expected one request message, got ${messages.length}`));
      const ctx: CallContext = { path, signal: abort.signal, trailers: {} };
      let trailerStatus: GrpcError | undefined;
      const sendTrailers = () => {
        const st = trailerStatus;
        stream.sendTrailers({ 'grpc-status': String(st?.code ?? Code.OK), ...(st ? { 'grpc-message': encodeGrpcMessage(st.message) } : {}), ...ctx.trailers });
      };
      try {
        if (uh) {
          const out = await uh(messages[0], ctx);
          if (stream.closed) return;
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
          stream.on('wantTrailers', sendTrailers);
          stream.end(encodeFrame(out));
          return;
        }
        const it = sh!(messages[0], ctx)[Symbol.asyncIterator]();
        let first = await it.next();
        if (stream.closed) return void (await it.return?.());
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', sendTrailers);
        try {
          for (; !first.done; first = await it.next()) {
            if (stream.closed) return void (await it.return?.());
            if (!stream.write(encodeFrame(first.value))) await new Promise((r) => stream.once('drain', r));
          }
        } catch (e) {
          trailerStatus = toStatus(e);
          opts.onError?.(path, trailerStatus.code, trailerStatus.message);
        }
        stream.end();
      } catch (e) {
        fail(toStatus(e));
      }
    });
  });

  mkdirSync(dirname(socketPath), { recursive: true });
  await clearStaleSocket(socketPath);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(socketPath, opts.mode ?? 0o660);

  return {
    socketPath,
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of live) s.destroy();
      await closed;
      rmSync(socketPath, { force: true });
    },
  };
}

