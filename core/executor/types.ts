// What the solver asks an executor (runc) to do for one RUN.
import type { Mount } from '../snapshot/types.ts';

export interface ExecMountSpec {
  /** Absolute path in the container. "/" is the rootfs. */
  destination: string;
  /** Mounts that together make this path (a snapshotter's answer, or a bind). */
  mounts: Mount[];
  readonly?: boolean;
}

export interface ExecRequest {
  args: string[];
  env: string[];
  cwd: string;
  user: string; // "name", "uid", "uid:gid", "name:group" – resolved against the rootfs
  network: 'default' | 'none' | 'host';
  hostname?: string;
  mounts: ExecMountSpec[]; // first is "/"
  /** Extra files to place read-only (secrets): destination → bytes. Never logged. */
  secrets?: { destination: string; data: Uint8Array; mode?: number; uid?: number; gid?: number }[];
  tmpfs?: { destination: string; size?: number }[];
  stdout?: (chunk: Uint8Array) => void;
  stderr?: (chunk: Uint8Array) => void;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number;
}

export interface Executor {
  run(req: ExecRequest): Promise<ExecResult>;
}
