// FROM, stages, global ARGs, targets, ONBUILD triggers of base images.
import { describe, expect, test } from 'bun:test';
import { asExec, asFile, chain, createdBy, names, request, rootOp, solve } from './helpers.ts';
import { dockerfileFrontend } from '../../../plugins/frontend-dockerfile/index.ts';

const images = {
  'alpine:3.19': { config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'] } },
  'alpine:3.20': { config: { Env: ['PATH=/usr/bin:/bin'] } },
  'busybox': { config: {} },
};

describe('FROM', () => {
  test('--platform and global ARGs (incl. predefined BUILDPLATFORM) are usable in FROM', async () => {
    const req = request('ARG VER=3.19\nARG IMG=alpine:${VER}\nFROM --platform=$BUILDPLATFORM $IMG AS a\nFROM --platform=linux/arm64 alpine:$VER\nCOPY --from=a / /', { images });
    const g = await dockerfileFrontend.solve(req);
    const sources = chain(g).filter((v) => v.op.op === 'source.image').map((v) => v.op);
    expect(sources).toEqual([
      { op: 'source.image', ref: 'alpine:3.19', platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { op: 'source.image', ref: 'alpine:3.19', platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    expect(g.image.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
  });

  test('build-arg overrides a global ARG default', async () => {
    const req = request('ARG VER=3.19\nFROM alpine:$VER', { images, opts: { 'build-arg:VER': '3.20' } });
    await dockerfileFrontend.solve(req);
    expect(req.resolved).toEqual(['alpine:3.20']);
  });

  test('a global ARG default replaces a predefined value; declaring it bare keeps the predefined one', async () => {
    const req = request('ARG TARGETARCH=riscv64\nARG BUILDOS\nFROM alpine:$TARGETARCH-$BUILDOS', { images: { 'alpine:riscv64-linux': { config: {} } } });
    await dockerfileFrontend.solve(req);
    expect(req.resolved).toEqual(['alpine:riscv64-linux']);
  });

  test('a build-arg not declared globally is not visible in FROM', async () => {
    const req = request('FROM alpine:3.19${SUFFIX}', { images, opts: { 'build-arg:SUFFIX': 'x' } });
    await dockerfileFrontend.solve(req);
    expect(req.resolved).toEqual(['alpine:3.19']);
  });

  test('FROM scratch: empty base, PATH default in config, scratch root when nothing is added', async () => {
    const g = await solve('FROM scratch');
    expect(rootOp(g)).toEqual({ op: 'source.scratch' });
    expect(g.image.config.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  test('FROM an earlier stage by name (case-insensitive) inherits filesystem, config and history', async () => {
    const g = await solve('FROM alpine:3.19 AS Base\nENV A=1\nRUN touch /a\nFROM base\nRUN touch /b', { images });
    const run = asExec(rootOp(g));
    expect(run.env).toContain('A=1');
    expect(g.image.baseImage).toBe('alpine:3.19');
    expect(createdBy(g)).toEqual(['ENV A=1', 'RUN /bin/sh -c touch /a # buildkit', 'RUN /bin/sh -c touch /b # buildkit']);
    expect(names(g).at(-1)).toBe('[stage-1 1/1] RUN touch /b');
  });

  test('only stages reachable from the target are converted', async () => {
    const req = request('FROM busybox AS unused\nRUN x\nFROM alpine:3.19 AS a\nFROM alpine:3.20\nCOPY --from=a /x /x', { images });
    const g = await dockerfileFrontend.solve(req);
    expect(req.resolved.sort()).toEqual(['alpine:3.19', 'alpine:3.20']);
    expect(Object.values(g.vertices).some((v) => v.op.op === 'exec')).toBe(false);
  });

  test('target selects a stage; default is the last one', async () => {
    const df = 'FROM alpine:3.19 AS one\nLABEL s=one\nFROM alpine:3.20 AS two\nLABEL s=two';
    expect((await solve(df, { images })).image.config.Labels).toEqual({ s: 'two' });
    expect((await solve(df, { images, opts: { target: 'ONE' } })).image.config.Labels).toEqual({ s: 'one' });
  });

  test('base image ONBUILD triggers run first and are cleared; own ONBUILD is stored', async () => {
    const imgs = { 'onb:1': { config: { OnBuild: ['COPY . /app', 'RUN make'], Env: ['PATH=/bin'] } } };
    const g = await solve('FROM onb:1\nONBUILD RUN echo child\nRUN echo own', { images: imgs, context: {} });
    expect(names(g)).toEqual([
      `[1/4] FROM onb:1@sha256:${'ab'.repeat(32)}`,
      '[internal] load build context',
      '[2/4] ONBUILD COPY . /app',
      '[3/4] ONBUILD RUN make',
      '[4/4] RUN echo own',
    ]);
    expect(g.image.config.OnBuild).toEqual(['RUN echo child']);
    // BuildKit writes no history entry for ONBUILD itself.
    expect(createdBy(g)).toEqual(['COPY . /app # buildkit', 'RUN /bin/sh -c make # buildkit', 'RUN /bin/sh -c echo own # buildkit']);
  });

  test('ONBUILD with a heredoc stores the body and runs it later', async () => {
    const g = await solve('FROM alpine:3.19\nONBUILD RUN <<EOF\necho from trigger\nEOF\nLABEL after=1', { images });
    expect(g.image.config.OnBuild).toEqual(['RUN <<EOF\necho from trigger\nEOF']);
    expect(g.image.config.Labels).toEqual({ after: '1' });
    const child = await solve('FROM onb:2\nRUN done', { images: { 'onb:2': { config: { OnBuild: g.image.config.OnBuild } } } });
    const execs = chain(child).filter((v) => v.op.op === 'exec').map((v) => asExec(v.op).args[2]);
    expect(execs).toEqual(['echo from trigger\n', 'done']);
  });

  test('a broken ONBUILD trigger of the base image is reported at the FROM line', async () => {
    const msg = await solve('FROM x\n\nFROM onb:3\nRUN y', { images: { 'onb:3': { config: { OnBuild: ['COPY --bogus a b'] } }, x: {} } }).catch((e) => (e as Error).message);
    expect(msg).toContain('Dockerfile:3: FROM onb:3: ONBUILD trigger "COPY --bogus a b" of onb:3: onb:3 ONBUILD:1: COPY --bogus a b: unknown flag: --bogus');
  });

  test('ONBUILD triggers of an earlier stage run when a stage builds FROM it', async () => {
    const g = await solve('FROM alpine:3.19 AS lib\nONBUILD RUN echo triggered\nFROM lib\nRUN echo after', { images });
    const execs = chain(g).filter((v) => v.op.op === 'exec').map((v) => asExec(v.op).args[2]);
    expect(execs).toEqual(['echo triggered', 'echo after']);
    expect(g.image.config.OnBuild).toBeUndefined();
  });

  test('COPY --from by stage index and by image reference', async () => {
    const g = await solve('FROM alpine:3.19\nRUN make\nFROM scratch\nCOPY --from=0 /out /a\nCOPY --from=busybox:1.36 /bin/busybox /b', { images });
    const [img] = chain(g).filter((v) => v.op.op === 'source.image' && v.op.ref.includes('busybox'));
    expect(img.op).toEqual({ op: 'source.image', ref: 'docker.io/library/busybox:1.36', platform: { os: 'linux', architecture: 'amd64' } });
    const fin = asFile(rootOp(g));
    expect(fin.actions[0]).toMatchObject({ src: img.id, srcPaths: ['/bin/busybox'], dest: '/b' });
  });
});
