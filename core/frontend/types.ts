// What a frontend plugin gets and returns. Like BuildKit's gateway: the frontend reads its
// inputs through these callbacks and returns a graph; it touches no disk itself.
import type { BuildGraph, ImageRuntimeConfig, Platform, HistoryEntry } from '../graph/ops.ts';

export interface ResolvedImage {
  ref: string; // normalised reference that was resolved
  digest: string; // manifest digest
  config: ImageRuntimeConfig; // the image config's `config` object
  history: HistoryEntry[];
  platform: Platform;
}

export interface FrontendRequest {
  /** --opt key=value pairs as given (filename, target, build-arg:K, platform, …). */
  opts: Record<string, string>;
  /** Reads a file from a --local source ("dockerfile" or "context"); null when absent. */
  readLocalFile(localName: string, path: string): Promise<Uint8Array | null>;
  /** Resolves an image reference to its config (no layers fetched). */
  resolveImageConfig(ref: string, platform: Platform): Promise<ResolvedImage>;
  /** The platform edgebuild runs on. */
  hostPlatform: Platform;
}

export interface Frontend {
  solve(req: FrontendRequest): Promise<BuildGraph>;
}

/** A frontend error that points at a place in the user's file. */
export class FrontendError extends Error {
  constructor(message: string, readonly file?: string, readonly line?: number) {
    super(file ? `${file}${line ? `:${line}` : ''}: ${message}` : message);
    this.name = 'FrontendError';
  }
}
