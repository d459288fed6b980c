// A gRPC client over cleartext HTTP/2 on a unix socket (node:http2). One connection, opened on
// first use and again after it drops; unary and server-streaming calls.
import http2 from 'node:http2';
import net from 'node:net';
import { FrameDecoder, encodeFrame } from './frame.ts';
import { Code, GrpcError, codeName, decodeGrpcMessage, parseStatus, type StatusCode } from './status.ts';

export interface CallOptions {
  signal?: AbortSignal;
  /** Sent as grpc-timeout; the call also fails locally with DEADLINE_EXCEEDED. */
  timeoutMs?: number;
}

export interface UnaryResult {
  body: Uint8Array;
  /** Trailers other than grpc-status / grpc-message. */
  metadata: Record<string, string>;
}

type Header = string | string[] | undefined;

function metadataOf(h: Record<string, Header>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':') && !k.startsWith('grpc-') && k !== 'content-type' && v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  return out;
}

export class GrpcClient {
  private session: http2.ClientHttp2Session | undefined;

  constructor(readonly socketPath: string) {}

  private connect(): http2.ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = http2.connect('http://localhost', { createConnection: () => net.connect(this.socketPath) });
    s.on('error', () => {}); // surfaced per call through the streams
    s.on('close', () => {
      if (this.session === s) this.session = undefined;
    });
    // Idle connections must not keep the process alive.
    s.unref?.();
    this.session = s;
    return s;
  }

  /** Runs one call; `onMessage` sees each response message. Resolves with the trailing metadata. */
  private call(path: string, request: Uint8Array, opts: CallOptions, onMessage: (m: Uint8Array) => void): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      const where = `${path} on ${this.socketPath}`;
      let req: http2.ClientHttp2Stream;
      try {
        req = this.connect().request({
          ':method': 'POST',
          ':path': path,
          'content-type': 'application/grpc',
          te: 'trailers',
          ...(opts.timeoutMs ? { 'grpc-timeout': `${Math.max(1, Math.ceil(opts.timeoutMs))}m` } : {}),
        });
      } catch (e) {
        return reject(new GrpcError(Code.UNAVAILABLE, `${where}: ${(e as Error).message}`));
      }
      let settled = false;
      const finish = (err?: GrpcError, meta?: Record<string, string>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) {
          if (!req.closed) req.close(http2.constants.NGHTTP2_CANCEL);
          reject(err);
        } else resolve(meta ?? {});
      };
      const onAbort = () => finish(new GrpcError(Code.CANCELLED, `${where}: cancelled`));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.signal?.aborted) return onAbort();
      const timer = opts.timeoutMs ? setTimeout(() => finish(new GrpcError(Code.DEADLINE_EXCEEDED, `${where}: no answer within ${opts.timeoutMs} ms`)), opts.timeoutMs) : undefined;

      const decoder = new FrameDecoder(`response ${where}`);
      let status: { code: number; message: string } | undefined;
      let metadata: Record<string, string> = {};
      const takeStatus = (h: Record<string, Header>) => {
        const code = parseStatus(h['grpc-status']);
        if (code === undefined) return;
        status = { code, message: decodeGrpcMessage(String(h['grpc-message'] ?? '')) };
        metadata = { ...metadata, ...metadataOf(h) };
      };
      req.on('response', (h) => {
        const st = Number(h[':status']);
        if (st !== 200) return finish(new GrpcError(st === 404 || st === 501 ? Code.UNIMPLEMENTED : Code.UNAVAILABLE, `${where}: HTTP status ${st}`));
        if (!String(h['content-type'] ?? '').startsWith('application/grpc')) return finish(new GrpcError(Code.INTERNAL, `${where}: response content-type ${JSON.stringify(h['content-type'])} is not gRPC`));
        takeStatus(h as Record<string, Header>);
      });
      req.on('trailers', (h) => takeStatus(h as Record<string, Header>));
      req.on('data', (chunk: Buffer) => {
        if (settled) return;
        try {
          for (const m of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length))) onMessage(m);
        } catch (e) {
          finish(e instanceof GrpcError ? e : new GrpcError(Code.INTERNAL, `${where}: ${(e as Error).message}`));
        }
      });
      req.on('error', (e) => finish(new GrpcError(Code.UNAVAILABLE, `${where}: ${e.message}`)));
      req.on('close', () => {
        if (settled) return;
        try {
          decoder.end();
        } catch (e) {
          return finish(e as GrpcError);
        }
        if (!status) return finish(new GrpcError(Code.UNAVAILABLE, `${where}: the stream closed without a grpc-status (server gone?)`));
        if (status.code !== Code.OK) return finish(new GrpcError(status.code as StatusCode, status.message || `${where}: ${codeName(status.code)}`));
        finish(undefined, metadata);
      });
      req.end(encodeFrame(request));
    });
  }

  async unary(path: string, request: Uint8Array, opts: CallOptions = {}): Promise<UnaryResult> {
    const got: Uint8Array[] = [];
    const metadata = await this.call(path, request, opts, (m) => got.push(m));
    if (got.length !== 1) throw new GrpcError(Code.INTERNAL, `${path} on ${this.socketPath}: expected one response message, got ${got.length}`);
    return { body: got[0], metadata };
  }

  /** All messages of a server-streaming call (the snapshot lists we read are small). */
  async serverStream(path: string, request: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array[]> {
    const got: Uint8Array[] = [];
    await this.call(path, request, opts, (m) => got.push(m));
    return got;
  }

  close(): void {
    this.session?.close();
    this.session = undefined;
  }
}
