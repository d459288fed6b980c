// Bad input: every error is one line naming the file, line and instruction.
import { describe, expect, test } from 'bun:test';
import { FrontendError } from '../../../core/frontend/types.ts';
import { solve, solveError } from './helpers.ts';

const images = { base: { config: {} } };
const err = (df: string, opts: Record<string, string> = {}) => solveError(df, { images, opts, context: {} });

describe('errors name file:line and the instruction', () => {
  test.each([
    ['syntax error (unterminated quote)', 'FROM base\n\nCOPY "a /b', 'Dockerfile:3: COPY "a /b: failed to process "\\"a": unexpected end of statement while looking for matching double-quote'],
    ['syntax error (ENV without =)', 'FROM base\nENV A=1 B', `Dockerfile:2: ENV A=1 B: Syntax error - can't find = in "B"`],
    ['syntax error (bad substitution)', 'FROM base\nLABEL a=${}', 'Dockerfile:2: LABEL a=${}: failed to process "${}": syntax error: bad substitution'],
    ['required variable', 'FROM base\nWORKDIR ${DIR:?set DIR}', 'Dockerfile:2: WORKDIR ${DIR:?set DIR}: failed to process "${DIR:?set DIR}": DIR: set DIR'],
    ['unknown instruction', 'FROM base\nRUN x\nCOPYY a b', 'Dockerfile:3: COPYY a b: unknown instruction: COPYY'],
    ['unknown flag', 'FROM base\nCOPY --form=x a /b', 'Dockerfile:2: COPY --form=x a /b: unknown flag: --form (COPY accepts --from, --chown, --chmod, --link, --exclude)'],
    ['flag on an instruction without flags', 'FROM base\nWORKDIR --x /a', 'Dockerfile:2: WORKDIR --x /a: unknown flag: --x (WORKDIR accepts no flags)'],
    ['duplicate flag', 'FROM base\nCOPY --from=a --from=b x /y', 'duplicate flag specified: --from'],
    ['flag without value', 'FROM base\nCOPY --chown a /b', 'missing a value on flag: --chown'],
    ['bool flag with a bad value', 'FROM base\nCOPY --link=maybe a /b', 'expecting boolean value for flag --link, not: maybe'],
    ['COPY --from an unknown stage index', 'FROM base AS a\nFROM base\nCOPY --from=2 /x /y', 'Dockerfile:3: COPY --from=2 /x /y: invalid stage index 2'],
    ['COPY --from with a variable', 'FROM base AS a\nFROM base\nARG S=a\nCOPY --from=$S /x /x', 'Dockerfile:4: COPY --from=$S /x /x: variable expansion is not supported for --from'],
    ['RUN --mount from= with a variable', 'FROM base\nRUN --mount=from=$S,target=/s true', 'variable expansion is not supported for --from'],
    ['COPY --from neither stage nor image', 'FROM base\nCOPY --from=Bad:Name! /x /y', 'Dockerfile:2: COPY --from=Bad:Name! /x /y: --from=Bad:Name! is neither a build stage nor a valid image reference'],
    ['COPY --from its own stage', 'FROM base AS me\nCOPY --from=me /x /y', 'cannot copy from stage "me", it needs to be defined before current stage "me"'],
    ['multiple sources without a directory destination', 'FROM base\nCOPY a b /dst', 'Dockerfile:2: COPY a b /dst: When using COPY with more than one source file, the destination must be a directory and end with a /'],
    ['ADD multiple sources', 'FROM base\nADD a b c', 'When using ADD with more than one source file'],
    ['COPY with one argument', 'FROM base\nCOPY onlyone', 'COPY requires at least two arguments, but only one was provided'],
    ['malformed --mount type', 'FROM base\nRUN --mount=type=nfs,target=/x true', 'Dockerfile:2: RUN --mount=type=nfs,target=/x true: unsupported mount type "nfs"'],
    ['malformed --mount key', 'FROM base\nRUN --mount=type=cache,target=/x,colour=red true', "unexpected key 'colour' in 'colour=red'"],
    ['--mount key for another type', 'FROM base\nRUN --mount=type=bind,target=/x,sharing=locked true', "--mount type=bind does not take 'sharing'"],
    ['--mount without target', 'FROM base\nRUN --mount=type=cache,id=x true', '--mount type=cache requires a target'],
    ['--mount bad mode', 'FROM base\nRUN --mount=type=cache,target=/c,mode=rwx true', 'invalid value for --mount mode: "rwx"'],
    ['--mount bad sharing', 'FROM base\nRUN --mount=type=cache,target=/c,sharing=all true', 'unsupported sharing value "all"'],
    ['--mount bad bool', 'FROM base\nRUN --mount=type=secret,id=a,required=perhaps true', 'invalid value for --mount required: "perhaps"'],
    ['secret without id or target', 'FROM base\nRUN --mount=type=secret,mode=0400 true', '--mount type=secret requires an id (or source) or a target'],
    ['bad --network', 'FROM base\nRUN --network=bridge true', 'network mode "bridge" not supported'],
    ['bad --chmod', 'FROM base\nCOPY --chmod=abc a /b', 'Dockerfile:2: COPY --chmod=abc a /b: invalid --chmod=abc: it should be an octal mode between 0 and 07777'],
    ['bad --chmod digits', 'FROM base\nCOPY --chmod=0999 a /b', 'invalid --chmod=0999'],
    ['--chmod above 07777', 'FROM base\nCOPY --chmod=17777 a /b', 'invalid --chmod=17777'],
    ['bad --chmod from a variable', 'FROM base\nARG M=u+x\nCOPY --chmod=$M a /b', 'Dockerfile:3: COPY --chmod=$M a /b: invalid --chmod=u+x'],
    ['--checksum on a local source', 'FROM base\nADD --checksum=sha256:' + 'a'.repeat(64) + ' f /f', 'checksum requires HTTP(S) or Git sources'],
    ['--checksum with several sources', 'FROM base\nADD --checksum=sha256:' + 'a'.repeat(64) + ' https://x/a https://x/b /d/', "checksum can't be specified for multiple sources"],
    ['malformed --checksum', 'FROM base\nADD --checksum=md5 https://x/y /y', 'invalid --checksum=md5'],
    ['ADD of a git repository', 'FROM base\nADD https://github.com/moby/buildkit.git /src', 'git sources are not supported'],
    ['COPY of a URL', 'FROM base\nCOPY https://example.com/x /x', "source can't be a URL for COPY"],
    ['instruction before FROM', 'ARG A=1\nRUN x\nFROM base', 'Dockerfile:2: RUN x: RUN before the first FROM: only ARG may come before FROM'],
    ['FROM with two words', 'FROM base other', 'Dockerfile:1: FROM base other: FROM requires either one or three arguments'],
    ['invalid stage name', 'FROM base AS 1st', 'invalid name for build stage: "1st"'],
    ['duplicate stage name', 'FROM base AS a\nFROM base AS A', 'Dockerfile:2: FROM base AS A: duplicate stage name "a"'],
    ['blank base', 'ARG IMG\nFROM $IMG', 'Dockerfile:2: FROM $IMG: base name ($IMG) should not be blank'],
    ['bad --platform', 'FROM --platform=linux/amd64/v1/x base', 'Dockerfile:1: FROM --platform=linux/amd64/v1/x base: --platform=linux/amd64/v1/x: invalid platform'],
    ['SHELL not JSON', 'FROM base\nSHELL /bin/bash -c', 'SHELL requires the arguments to be in JSON form'],
    ['HEALTHCHECK bad duration', 'FROM base\nHEALTHCHECK --interval=5 CMD true', 'invalid duration for --interval: "5"'],
    ['HEALTHCHECK too short', 'FROM base\nHEALTHCHECK --timeout=10us CMD true', '--timeout "10us" cannot be less than 1ms'],
    ['HEALTHCHECK type', 'FROM base\nHEALTHCHECK RUN true', 'Unknown type "RUN" in HEALTHCHECK (try CMD)'],
    ['HEALTHCHECK NONE with args', 'FROM base\nHEALTHCHECK NONE x', 'HEALTHCHECK NONE takes no arguments'],
    ['EXPOSE bad port', 'FROM base\nEXPOSE 80/xyz', 'invalid proto: xyz'],
    ['EXPOSE not a port', 'FROM base\nEXPOSE http', 'invalid containerPort: http'],
    ['STOPSIGNAL bad', 'FROM base\nSTOPSIGNAL SIGNOPE', 'invalid signal: SIGNOPE'],
    ['VOLUME empty', 'FROM base\nARG E\nVOLUME $E', 'VOLUME specified can not be an empty string'],
    ['ONBUILD trigger is checked at its line', 'FROM base\n\nONBUILD COPY --nope a b', 'Dockerfile:3: COPY --nope a b: unknown flag: --nope'],
    ['JSON array of non-strings', 'FROM base\nCMD ["a", 1]', 'Dockerfile:2: CMD ["a", 1]: when using JSON array syntax, arrays must be comprised of strings only'],
    ['empty Dockerfile', '', 'Dockerfile: the Dockerfile cannot be empty'],
    ['heredoc as COPY destination', 'FROM base\nCOPY a <<EOF\nx\nEOF', 'COPY cannot accept a heredoc as a destination'],
    ['mount on the root', 'FROM base\nRUN --mount=type=cache,target=/ true', 'invalid mount target "/"'],
    ['FROM an invalid reference', 'FROM Alpine:3', 'Dockerfile:1: FROM Alpine:3: failed to parse stage name "Alpine:3"'],
    ['unbalanced quote after a heredoc marker (found by fuzzing)', "FROM base\nCOPY <<-EOF' /x/", 'failed to process'],
    ['no FROM at all', 'ARG A=1', 'Dockerfile: the Dockerfile has no build stage (no FROM instruction)'],
  ])('%s', async (_what, df, message) => {
    const msg = await err(df);
    expect(msg).toContain(message);
    expect(msg).not.toContain('\n');
  });

  test('undefined target names it', async () => {
    expect(await err('FROM base AS a\nFROM base AS b', { target: 'c' })).toBe('Dockerfile: target stage "c" could not be found (stages: a, b)');
  });

  test('COPY --from a later stage (by name or index) when that stage is built', async () => {
    expect(await err('FROM base AS a\nCOPY --from=b /x /x\nFROM base AS b', { target: 'a' })).toBe(
      'Dockerfile:2: COPY --from=b /x /x: cannot copy from stage "b", it needs to be defined before current stage "a"',
    );
    expect(await err('FROM base AS a\nCOPY --from=1 /x /x\nFROM base AS b', { target: 'a' })).toContain('cannot copy from stage "1"');
    // unreachable stages are not built, so their mistakes of this kind do not matter (as in BuildKit)
    expect(await solve('FROM base AS a\nCOPY --from=b /x /x\nFROM base AS b', { images })).toBeDefined();
  });

  test('an image that cannot be resolved names the FROM line', async () => {
    expect(await err('FROM base\nFROM missing:1')).toBe('Dockerfile:2: FROM missing:1: cannot resolve image missing:1 for linux/amd64: no such image missing:1');
  });

  test('a missing Dockerfile', async () => {
    const req = { opts: { filename: 'x.Dockerfile' }, hostPlatform: { os: 'linux', architecture: 'amd64' }, readLocalFile: async () => null, resolveImageConfig: async () => { throw new Error('unused'); } };
    const { dockerfileFrontend } = await import('../../../plugins/frontend-dockerfile/index.ts');
    await expect(dockerfileFrontend.solve(req)).rejects.toThrow('x.Dockerfile not found in the dockerfile source');
  });

  test('errors are FrontendErrors carrying file and line', async () => {
    try {
      await solve('FROM base\nRUN --mount=type=x true', { images });
      throw new Error('expected failure');
    } catch (e) {
      expect(e).toBeInstanceOf(FrontendError);
      expect((e as FrontendError).file).toBe('Dockerfile');
      expect((e as FrontendError).line).toBe(2);
    }
  });

  test('a multi-platform option is refused', async () => {
    expect(await err('FROM base', { platform: 'linux/amd64,linux/arm64' })).toContain('several platforms');
  });
});
