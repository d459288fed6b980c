// Argument and input errors of pull/inspect/copy that need no registry (fast).
import { afterAll, describe, expect, test } from 'bun:test';
import { tempDir, removeTempDirs } from '../harness/temp-dir.ts';
import { testContext } from '../harness/command-context.ts';
import { storedBlobs } from '../harness/store-contents.ts';
import { pullCommand } from '../../cli/commands/pull.ts';
import { inspectCommand } from '../../cli/commands/inspect.ts';
import { copyCommand } from '../../cli/commands/copy.ts';
import { UserError } from '../../cli/command.ts';

afterAll(removeTempDirs);

async function failure(run: Promise<number>): Promise<UserError> {
  const e = await run.then(
    () => undefined,
    (err) => err,
  );
  expect(e).toBeInstanceOf(UserError);
  expect(e.message).not.toContain('\n');
  return e;
}

describe('image commands: bad input', () => {
  test('malformed reference stores nothing', async () => {
    const ctx = testContext();
    expect((await failure(pullCommand.run(['Not/A Ref'], ctx))).message).toBe('pull Not/A Ref: invalid reference "Not/A Ref": contains whitespace');
    expect(storedBlobs(ctx.root)).toEqual([]);
    expect((await failure(inspectCommand.run(['x@sha256:12'], testContext()))).message).toBe('inspect x@sha256:12: invalid reference "x@sha256:12": invalid digest "sha256:12"');
  });

  test('bad platform and usage errors', async () => {
    expect((await failure(pullCommand.run(['alpine', '--platform', 'linux//arm'], testContext()))).message).toBe('pull alpine: invalid platform "linux//arm" (expected os/arch[/variant], e.g. linux/arm64/v8)');
    const usage = await failure(pullCommand.run([], testContext()));
    expect(usage.exitCode).toBe(2);
    expect((await failure(copyCommand.run(['oci:/a'], testContext()))).exitCode).toBe(2);
    expect((await failure(inspectCommand.run(['a', '--bogus'], testContext()))).message).toMatch(/unknown flag --bogus/);
  });

  test('bad transports', async () => {
    expect((await failure(copyCommand.run(['foo:bar', 'oci:/tmp/x'], testContext()))).message).toBe('copy foo:bar to oci:/tmp/x: "foo:bar": unknown transport (use docker://REF or oci:DIR[:TAG])');
    const empty = tempDir('eb-empty-');
    expect((await failure(copyCommand.run([`oci:${empty}:x`, 'oci:/tmp/y'], testContext()))).message).toBe(`copy oci:${empty}:x to oci:/tmp/y: oci:${empty}: not an OCI image layout (no oci-layout file)`);
  });
});
