// Progress is one stream of vertex events; tty, plain and rawjson are renderings of it.

export type ProgressEvent =
  | { type: 'vertex.started'; id: string; name: string; time: number }
  | { type: 'vertex.cached'; id: string; name: string; time: number }
  | { type: 'vertex.log'; id: string; stream: 1 | 2; data: string; time: number }
  | { type: 'vertex.status'; id: string; status: string; current?: number; total?: number; time: number }
  | { type: 'vertex.completed'; id: string; time: number }
  | { type: 'vertex.error'; id: string; error: string; time: number };

export type ProgressSink = (e: ProgressEvent) => void;

/** A handle for one vertex's events. */
export interface VertexProgress {
  log(data: string | Uint8Array, stream?: 1 | 2): void;
  status(status: string, current?: number, total?: number): void;
}

export class ProgressStream {
  private readonly sinks: ProgressSink[] = [];
  private readonly redactions: string[] = [];

  subscribe(sink: ProgressSink): void {
    this.sinks.push(sink);
  }

  /** Values (secrets, credentials) that must never appear in any rendering. */
  redact(value: string): void {
    if (value.length >= 3) this.redactions.push(value);
  }

  private scrub(text: string): string {
    for (const r of this.redactions) text = text.split(r).join('****');
    return text;
  }

  emit(e: ProgressEvent): void {
    if (e.type === 'vertex.log') e = { ...e, data: this.scrub(e.data) };
    else if (e.type === 'vertex.error') e = { ...e, error: this.scrub(e.error) };
    else if ('name' in e) e = { ...e, name: this.scrub(e.name) };
    for (const s of this.sinks) s(e);
  }

  /** Runs fn as a vertex: started → completed/error, or cached when fn returns 'cached'. */
  async vertex<T>(id: string, name: string, fn: (p: VertexProgress) => Promise<T>): Promise<T> {
    this.emit({ type: 'vertex.started', id, name, time: Date.now() });
    const decoder = new TextDecoder();
    // Logs go out in whole lines so a secret split across two writes is still redacted.
    const pending: Record<1 | 2, string> = { 1: '', 2: '' };
    const flush = (stream: 1 | 2, all: boolean) => {
      const text = pending[stream];
      const cut = all ? text.length : text.lastIndexOf('\n') + 1;
      if (cut <= 0) return;
      pending[stream] = text.slice(cut);
      this.emit({ type: 'vertex.log', id, stream, data: text.slice(0, cut), time: Date.now() });
    };
    const p: VertexProgress = {
      log: (data, stream = 1) => {
        pending[stream] += typeof data === 'string' ? data : decoder.decode(data, { stream: true });
        flush(stream, pending[stream].length > 65536);
      },
      status: (status, current, total) => this.emit({ type: 'vertex.status', id, status, current, total, time: Date.now() }),
    };
    try {
      const result = await fn(p);
      flush(1, true);
      flush(2, true);
      this.emit({ type: 'vertex.completed', id, time: Date.now() });
      return result;
    } catch (e) {
      flush(1, true);
      flush(2, true);
      this.emit({ type: 'vertex.error', id, error: (e as Error).message, time: Date.now() });
      throw e;
    }
  }

  cached(id: string, name: string): void {
    this.emit({ type: 'vertex.cached', id, name, time: Date.now() });
  }
}
