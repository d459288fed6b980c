// Temp dirs for registry tests under one parent per test process. Each test file that makes them
// calls `afterAll(removeTempDirs)` (bun:test runs no process exit hooks, and a hook registered by
// this shared module would only be attached to the first file that imports it).
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const parent = join(tmpdir(), `eb-test-${process.pid}`);

export function tempDir(prefix: string): string {
  mkdirSync(parent, { recursive: true });
  return mkdtempSync(join(parent, prefix));
}

export function removeTempDirs(): void {
  rmSync(parent, { recursive: true, force: true });
}
