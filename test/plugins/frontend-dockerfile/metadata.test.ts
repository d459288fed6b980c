// Instructions that change the image config (and WORKDIR's mkdir), with their history entries.
import { describe, expect, test } from 'bun:test';
import { asExec, asFile, createdBy, rootOp, solve } from './helpers.ts';

const images = {
  base: { config: { Env: ['PATH=/bin', 'LANG=C'], Cmd: ['/bin/sh'], Entrypoint: ['/init'], Labels: { from: 'base' }, WorkingDir: '/home' } },
};
const build = (body: string, opts: Record<string, string> = {}) => solve(`FROM base\n${body}`, { images, opts, context: {} });
const empty = (by: string) => ({ created_by: by, comment: 'buildkit.dockerfile.v0', empty_layer: true });

describe('ENV', () => {
  test('K=V pairs, quotes, replacement in place, values expanded with the previous env', async () => {
    const g = await build('ENV A=1 B="two words" LANG=en_US.UTF-8\nENV A=2 C=$A\nENV D x y  z');
    expect(g.image.config.Env).toEqual(['PATH=/bin', 'LANG=en_US.UTF-8', 'A=2', 'B=two words', 'C=1', 'D=x y  z']);
    expect(g.image.history).toEqual([empty('ENV A=1 B=two words LANG=en_US.UTF-8'), empty('ENV A=2 C=1'), empty('ENV D=x y  z')]);
  });
  test('ENV is what later RUNs see', async () => {
    const g = await build('ENV PATH=/opt/bin:$PATH\nRUN x');
    expect(asExec(rootOp(g)).env).toEqual(['PATH=/opt/bin:/bin', 'LANG=C']);
  });
});

describe('ARG', () => {
  test('defaults, build-arg overrides, expansion; never in the image env', async () => {
    const g = await build('ARG A=1 B=$A-x\nARG C\nLABEL a=$A b=$B c=$C', { 'build-arg:A': '9', 'build-arg:C': 'see' });
    expect(g.image.config.Labels).toEqual({ from: 'base', a: '9', b: '9-x', c: 'see' });
    expect(g.image.config.Env).toEqual(['PATH=/bin', 'LANG=C']);
    // History shows the values in effect, as BuildKit writes them.
    expect(createdBy(g).slice(0, 2)).toEqual(['ARG A=9 B=9-x', 'ARG C=see']);
  });
  test('a stage re-declares a global ARG to see its value', async () => {
    const g = await solve('ARG V=global\nFROM base\nARG V\nLABEL v=$V', { images });
    expect(g.image.config.Labels).toMatchObject({ v: 'global' });
    expect(createdBy(g)[0]).toBe('ARG V=global');
  });
  test('a default in the stage beats the predefined value; a build-arg beats both', async () => {
    expect((await build('ARG TARGETOS=plan9\nLABEL os=$TARGETOS')).image.config.Labels).toMatchObject({ os: 'plan9' });
    expect((await build('ARG TARGETOS=plan9\nLABEL os=$TARGETOS', { 'build-arg:TARGETOS': 'x' })).image.config.Labels).toMatchObject({ os: 'x' });
  });
  test('a global ARG is not visible in a stage without re-declaration', async () => {
    const g = await solve('ARG V=global\nFROM base\nLABEL v=x$V', { images });
    expect(g.image.config.Labels).toMatchObject({ v: 'x' });
  });
});

describe('WORKDIR and USER', () => {
  test('relative WORKDIR joins the previous one and creates the directory', async () => {
    const g = await build('USER app:staff\nWORKDIR a\nWORKDIR ../b/./c');
    expect(g.image.config.WorkingDir).toBe('/home/b/c');
    const mk = asFile(rootOp(g));
    expect(mk.actions).toEqual([{ action: 'mkdir', path: '/home/b/c', mode: 0o755, makeParents: true, chown: { user: 'app', group: 'staff' } }]);
    expect(g.vertices[g.root].meta.name).toBe('[3/3] WORKDIR ../b/./c');
    expect(g.image.history).toEqual([
      empty('USER app:staff'),
      { created_by: 'WORKDIR /home/a', comment: 'buildkit.dockerfile.v0' },
      { created_by: 'WORKDIR /home/b/c', comment: 'buildkit.dockerfile.v0' },
    ]);
    expect(g.image.config.User).toBe('app:staff');
  });
  test('WORKDIR / creates nothing', async () => {
    const g = await build('WORKDIR /');
    expect(rootOp(g).op).toBe('source.image');
    expect(g.image.history).toEqual([empty('WORKDIR /')]);
  });
  test('USER and WORKDIR expand variables', async () => {
    const g = await build('ENV U=1000 D=/srv\nUSER $U\nWORKDIR ${D}/app');
    expect([g.image.config.User, g.image.config.WorkingDir]).toEqual(['1000', '/srv/app']);
  });
});

describe('LABEL, MAINTAINER, EXPOSE, VOLUME, STOPSIGNAL', () => {
  test('LABEL forms', async () => {
    const g = await build('LABEL a=1 "b c"="d e" f=g\\ h\nLABEL legacy value here');
    expect(g.image.config.Labels).toEqual({ from: 'base', a: '1', 'b c': 'd e', f: 'g h', legacy: 'value here' });
    expect(createdBy(g)[0]).toBe('LABEL a=1 b c=d e f=g h');
  });
  test('MAINTAINER becomes the maintainer label', async () => {
    const g = await build('MAINTAINER Jane <jane@example.com>');
    expect(g.image.config.Labels).toMatchObject({ maintainer: 'Jane <jane@example.com>' });
    expect(createdBy(g)).toEqual(['MAINTAINER Jane <jane@example.com>']);
  });
  test('EXPOSE: tcp default, protocols, ranges, variables (split into words), host part ignored', async () => {
    const g = await build('ARG P="8080/TCP 7/udp"\nEXPOSE 80 53/udp $P 9000-9001 127.0.0.1:8443:443');
    expect(g.image.config.ExposedPorts).toEqual({ '80/tcp': {}, '53/udp': {}, '8080/tcp': {}, '7/udp': {}, '9000/tcp': {}, '9001/tcp': {}, '443/tcp': {} });
    // BuildKit sorts the words as written, then expands them
    expect(createdBy(g).at(-1)).toBe('EXPOSE [8080/tcp 7/udp 443/tcp 53/udp 80/tcp 9000/tcp 9001/tcp]');
  });
  test('VOLUME: JSON and list forms', async () => {
    const g = await build('VOLUME ["/data", "/logs"]\nVOLUME /a /b');
    expect(g.image.config.Volumes).toEqual({ '/data': {}, '/logs': {}, '/a': {}, '/b': {} });
    expect(createdBy(g)).toEqual(['VOLUME [/data /logs]', 'VOLUME [/a /b]']);
  });
  test('STOPSIGNAL', async () => {
    const g = await build('STOPSIGNAL SIGKILL');
    expect(g.image.config.StopSignal).toBe('SIGKILL');
    expect((await build('STOPSIGNAL 9')).image.config.StopSignal).toBe('9');
  });
});

describe('CMD, ENTRYPOINT, SHELL', () => {
  test('shell form wraps with SHELL; history in Go %q', async () => {
    const g = await build('SHELL ["/bin/bash", "-c"]\nCMD echo "hi"');
    expect(g.image.config.Cmd).toEqual(['/bin/bash', '-c', 'echo "hi"']);
    expect(g.image.config.Shell).toEqual(['/bin/bash', '-c']);
    expect(createdBy(g)).toEqual(['SHELL [/bin/bash -c]', 'CMD ["/bin/bash" "-c" "echo \\"hi\\""]']);
  });
  test('ENTRYPOINT resets the CMD inherited from the base', async () => {
    const g = await build('ENTRYPOINT ["/app"]');
    expect(g.image.config.Entrypoint).toEqual(['/app']);
    expect(g.image.config.Cmd).toBeUndefined();
  });
  test('ENTRYPOINT keeps a CMD set earlier in the same stage', async () => {
    const g = await build('CMD ["--help"]\nENTRYPOINT /app serve');
    expect(g.image.config.Cmd).toEqual(['--help']);
    expect(g.image.config.Entrypoint).toEqual(['/bin/sh', '-c', '/app serve']);
  });
});

describe('HEALTHCHECK', () => {
  test('CMD with every duration flag and retries, in nanoseconds', async () => {
    const g = await build('HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 CMD curl -f http://localhost/ || exit 1');
    expect(g.image.config.Healthcheck).toEqual({
      Test: ['CMD-SHELL', 'curl -f http://localhost/ || exit 1'],
      Interval: 300e9, Timeout: 3e9, StartPeriod: 90e9, StartInterval: 500e6, Retries: 3,
    });
    expect(createdBy(g)).toEqual(['HEALTHCHECK {Test:[CMD-SHELL curl -f http://localhost/ || exit 1] Interval:5m0s Timeout:3s StartPeriod:1m30s StartInterval:500ms Retries:3}']);
  });
  test('exec form and NONE', async () => {
    expect((await build('HEALTHCHECK CMD ["/bin/check", "-q"]')).image.config.Healthcheck).toEqual({ Test: ['CMD', '/bin/check', '-q'] });
    expect((await build('HEALTHCHECK NONE')).image.config.Healthcheck).toEqual({ Test: ['NONE'] });
  });
});

describe('frontend options', () => {
  test('label:K=V options land on the final image', async () => {
    const g = await build('LABEL a=1', { 'label:org.opencontainers.image.source': 'https://x', 'label:a': 'opt' });
    expect(g.image.config.Labels).toEqual({ from: 'base', a: 'opt', 'org.opencontainers.image.source': 'https://x' });
  });
  test('no-cache marks every vertex; no-cache=stage marks only that stage', async () => {
    const df = 'FROM base AS a\nRUN one\nFROM scratch\nCOPY --from=a /x /x';
    const all = await solve(df, { images, opts: { 'no-cache': '' } });
    expect(Object.values(all.vertices).every((v) => v.meta.ignoreCache === true)).toBe(true);
    const some = await solve(df, { images, opts: { 'no-cache': 'a' } });
    const marked = Object.values(some.vertices).filter((v) => v.meta.ignoreCache).map((v) => v.meta.name);
    expect(marked.sort()).toEqual([`[a 1/2] FROM base@sha256:${'ab'.repeat(32)}`, '[a 2/2] RUN one']);
    const none = await solve(df, { images });
    expect(Object.values(none.vertices).some((v) => 'ignoreCache' in v.meta)).toBe(false);
  });
  test('platform option sets the image platform and TARGET args', async () => {
    const g = await build('ARG TARGETARCH\nLABEL arch=$TARGETARCH', { platform: 'linux/arm64' });
    expect(g.image.platform).toEqual({ os: 'linux', architecture: 'arm64', variant: 'v8' });
    expect(g.image.config.Labels).toMatchObject({ arch: 'arm64' });
  });
  test('filename option reads another Dockerfile', async () => {
    const g = await solve('FROM base\nLABEL f=1', { images, opts: { filename: 'ci/Dockerfile.prod' } });
    expect(g.image.config.Labels).toMatchObject({ f: '1' });
  });
});
