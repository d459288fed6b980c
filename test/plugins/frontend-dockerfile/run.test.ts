// RUN: shell/exec form, SHELL, env (image ENV, ARGs, proxies), mounts, network, heredocs, history.
import { describe, expect, test } from 'bun:test';
import { asExec, asFile, chain, createdBy, rootOp, solve } from './helpers.ts';

const images = { base: { config: { Env: ['PATH=/usr/bin:/bin', 'HOME=/root'], WorkingDir: '/srv', User: 'app' } } };
const run = async (body: string, opts: Record<string, string> = {}) => {
  const g = await solve(`FROM base AS b\n${body}`, { images, opts, context: {} });
  return { g, exec: asExec(rootOp(g)) };
};

describe('RUN', () => {
  test('shell form through /bin/sh -c, base env, WORKDIR and USER of the image', async () => {
    const { exec } = await run('RUN echo $HOME && ls');
    expect(exec).toMatchObject({ args: ['/bin/sh', '-c', 'echo $HOME && ls'], env: ['PATH=/usr/bin:/bin', 'HOME=/root'], cwd: '/srv', user: 'app', network: 'default' });
  });

  test('exec (JSON) form is used as is; SHELL changes the shell form', async () => {
    expect((await run('RUN ["echo", "a b"]')).exec.args).toEqual(['echo', 'a b']);
    expect((await run('SHELL ["/bin/bash", "-eo", "pipefail", "-c"]\nRUN a | b')).exec.args).toEqual(['/bin/bash', '-eo', 'pipefail', '-c', 'a | b']);
  });

  test('invalid JSON falls back to shell form', async () => {
    expect((await run('RUN [ "a", ]')).exec.args).toEqual(['/bin/sh', '-c', '[ "a", ]']);
  });

  test('a base without PATH gets the default PATH (BuildKit always sets it)', async () => {
    const g = await solve('FROM bare\nRUN x', { images: { bare: { config: {} } } });
    expect(asExec(rootOp(g)).env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
    expect(g.image.config.Env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin']);
  });

  test('ARG values reach RUN env and history as |N; undeclared build-args do not', async () => {
    const { g, exec } = await run('ARG A=1\nARG B\nARG NONE\nRUN x', { 'build-arg:B': 'two', 'build-arg:C': 'nope' });
    expect(exec.env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/root', 'A=1', 'B=two']);
    expect(createdBy(g).at(-1)).toBe('RUN |3 A=1 B=two NONE= /bin/sh -c x # buildkit');
    expect(g.image.config.Env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/root']);
  });

  test('ENV after ARG wins; an ARG after ENV sets the RUN env but not the image (BuildKit order)', async () => {
    const a = await run('ARG V=arg\nENV V=env\nRUN x', { 'build-arg:V': 'cli' });
    expect(a.exec.env).toContain('V=env');
    expect(createdBy(a.g).at(-1)).toBe('RUN |1 V=env /bin/sh -c x # buildkit');
    const b = await run('ARG HOME=/other\nRUN x');
    expect(b.exec.env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/other']);
    expect(b.g.image.config.Env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/root']);
  });

  test('ARGs of a base stage stay in scope in a stage built FROM it', async () => {
    const g = await solve('FROM base AS b\nARG V=1\nFROM b\nRUN x', { images });
    expect(asExec(rootOp(g)).env).toContain('V=1');
    expect(createdBy(g).at(-1)).toBe('RUN |1 V=1 /bin/sh -c x # buildkit');
  });

  test('proxy build-args reach RUN without ARG but stay out of history', async () => {
    const { g, exec } = await run('RUN curl x', { 'build-arg:HTTP_PROXY': 'http://p:3128', 'build-arg:no_proxy': 'local' });
    expect(exec.env).toEqual(['PATH=/usr/bin:/bin', 'HOME=/root', 'HTTP_PROXY=http://p:3128', 'no_proxy=local']);
    expect(createdBy(g).at(-1)).toBe('RUN /bin/sh -c curl x # buildkit');
  });

  test('predefined platform ARGs need a declaration in the stage', async () => {
    expect((await run('RUN x')).exec.env).not.toContain('TARGETARCH=amd64');
    const { exec } = await run('ARG TARGETPLATFORM TARGETOS TARGETARCH TARGETVARIANT BUILDPLATFORM\nRUN x', { platform: 'linux/arm/v7' });
    expect(exec.env.slice(2)).toEqual(['TARGETPLATFORM=linux/arm/v7', 'TARGETOS=linux', 'TARGETARCH=arm', 'TARGETVARIANT=v7', 'BUILDPLATFORM=linux/amd64']);
  });

  test('--network', async () => {
    expect((await run('RUN --network=none x')).exec.network).toBe('none');
    expect((await run('RUN --network=host x')).exec.network).toBe('host');
  });

  test('--mount=type=cache with all options', async () => {
    const { exec } = await run('RUN --mount=type=cache,target=.cache/go,id=gocache,sharing=locked,mode=0700,uid=1000,gid=1001 go build');
    expect(exec.mounts[1]).toEqual({ type: 'cache', target: '/srv/.cache/go', cacheId: 'gocache', sharing: 'locked', readonly: false, mode: 0o700, uid: 1000, gid: 1001 });
  });

  test('--mount=type=cache defaults: id = target, shared, 0755, root', async () => {
    const { exec } = await run('RUN --mount=type=cache,dst=/root/.cache x');
    expect(exec.mounts[1]).toEqual({ type: 'cache', target: '/root/.cache', cacheId: '/root/.cache', sharing: 'shared', readonly: false, mode: 0o755, uid: 0, gid: 0 });
  });

  test('--mount=type=bind from the context (read-only) and from a stage (rw)', async () => {
    const g = await solve('FROM base AS tools\nRUN make\nFROM base\nWORKDIR /w\nRUN --mount=type=bind,source=go.mod,target=src/go.mod --mount=type=bind,from=tools,src=/etc,target=/e,rw x', { images, context: {} });
    const exec = asExec(rootOp(g));
    const ctx = chain(g).find((v) => v.op.op === 'source.local')!;
    const base = chain(g).find((v) => v.op.op === 'exec' && asExec(v.op).args[2] === 'make')!;
    expect(exec.mounts.slice(1)).toEqual([
      { type: 'bind', target: '/w/src/go.mod', input: ctx.id, source: '/go.mod', readonly: true, output: false },
      { type: 'bind', target: '/e', input: base.id, source: '/etc', readonly: false, output: false },
    ]);
  });

  test('--mount=type=tmpfs with size', async () => {
    const { exec } = await run('RUN --mount=type=tmpfs,target=/tmp,size=64m x');
    expect(exec.mounts[1]).toEqual({ type: 'tmpfs', target: '/tmp', size: 64 * 1024 * 1024 });
  });

  test('--mount=type=secret: id only, target, env, required; no values anywhere', async () => {
    const { g, exec } = await run('RUN --mount=type=secret,id=npmrc --mount=type=secret,target=/run/tok,required=true,mode=0440 --mount=type=secret,id=gh,env=GH_TOKEN,uid=5 x');
    expect(exec.mounts.slice(1)).toEqual([
      { type: 'secret', target: '/run/secrets/npmrc', secretId: 'npmrc', required: false, mode: 0o400, uid: 0, gid: 0 },
      { type: 'secret', target: '/run/tok', secretId: 'tok', required: true, mode: 0o440, uid: 0, gid: 0 },
      { type: 'secret', target: '/run/secrets/gh', secretId: 'gh', required: false, mode: 0o400, uid: 5, gid: 0, env: 'GH_TOKEN' } as never,
    ]);
    expect(JSON.stringify(g)).not.toContain('GH_TOKEN=');
  });

  test('--mount=type=secret,source= names the secret; its env var is masked in the progress name', async () => {
    const { g, exec } = await run('RUN --mount=type=secret,source=aws,target=/root/.aws/credentials --mount=type=secret,id=t,env=TOKEN echo $TOKEN');
    expect(exec.mounts[1]).toMatchObject({ secretId: 'aws', target: '/root/.aws/credentials' });
    expect(g.vertices[g.root].meta.name).toBe('[2/2] RUN --mount=type=secret,source=aws,target=/root/.aws/credentials --mount=type=secret,id=t,env=TOKEN echo ****');
  });

  test('--mount=type=ssh defaults', async () => {
    const { exec } = await run('RUN --mount=type=ssh git clone x');
    expect(exec.mounts[1]).toEqual({ type: 'ssh', target: '/run/buildkit/ssh_agent.0', secretId: 'default', required: false, mode: 0o600, uid: 0, gid: 0 });
  });

  test('mount values are expanded with ARGs', async () => {
    const { exec } = await run('ARG C=/cache\nRUN --mount=type=cache,target=$C x');
    expect(exec.mounts[1]).toMatchObject({ target: '/cache', cacheId: '/cache' });
  });

  test('RUN <<EOF runs the body as the script; <<- strips tabs', async () => {
    expect((await run('RUN <<EOF\necho a\necho b\nEOF')).exec.args).toEqual(['/bin/sh', '-c', 'echo a\necho b\n']);
    expect((await run('RUN <<-EOF\n\techo a\n\tEOF')).exec.args).toEqual(['/bin/sh', '-c', 'echo a\n']);
  });

  test('RUN <<EOF with a #! line becomes an executable file mounted at /dev/pipes', async () => {
    const { g, exec } = await run('RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF');
    expect(exec.args).toEqual(['/bin/sh', '-c', '/dev/pipes/EOF']);
    const pipe = exec.mounts[1];
    expect(pipe).toMatchObject({ type: 'bind', target: '/dev/pipes/', source: '/', readonly: true });
    expect(asFile(g.vertices[pipe.input!].op).actions).toEqual([{ action: 'mkfile', path: '/EOF', mode: 0o755, data: '#!/usr/bin/env python3\nprint(1)\n' }]);
  });

  test('RUN cmd <<EOF … is handed to the shell as written (several heredocs too)', async () => {
    expect((await run('RUN cat <<A > /a && cat <<"B" > /b\n$x\nA\n$y\nB')).exec.args).toEqual(['/bin/sh', '-c', 'cat <<A > /a && cat <<"B" > /b\n$x\nA\n$y\nB']);
  });

  test('progress name shows the expanded command', async () => {
    const { g } = await run('ARG V=1.2\nRUN --mount=type=cache,target=/c echo "$V"');
    expect(g.vertices[g.root].meta.name).toBe('[2/2] RUN --mount=type=cache,target=/c echo "1.2"');
  });

  test('progress names: stage label with several stages, index padded to the total width', async () => {
    const g = await solve(`FROM base AS a\nFROM base AS b\n${'RUN x\n'.repeat(9)}RUN $UNSET`, { images });
    expect(g.vertices[g.root].meta.name).toBe('[b 11/11] RUN $UNSET');
    const two = chain(g).find((v) => v.meta.name.includes(' 2/11]'))!;
    expect(two.meta.name).toBe('[b  2/11] RUN x');
  });

  test('RUN <<EOF names show the first line of the script', async () => {
    const { g } = await run('RUN <<EOF\napt-get update\napt-get install -y x\nEOF');
    expect(g.vertices[g.root].meta.name).toBe('[2/2] RUN <<EOF (apt-get update...)');
  });
});
