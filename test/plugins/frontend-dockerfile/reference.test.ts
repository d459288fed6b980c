// The reference multi-stage example (base ref pointed at a local registry).
import { describe, expect, test } from 'bun:test';
import { asExec, asFile, chain, createdBy, names, solve } from './helpers.ts';

const GOLANG = '127.0.0.1:5000/golang:1.15.3-buster-esgz';
const DOCKERFILE = `FROM ${GOLANG} AS dev
COPY ./hello.go /hello.go
RUN go build -o /hello /hello.go
FROM scratch
COPY --from=dev /hello /
`;
const input = {
  context: { 'hello.go': 'package main\nfunc main() {}\n' },
  images: { [GOLANG]: { config: { Env: ['PATH=/go/bin:/usr/local/go/bin:/usr/bin:/bin', 'GOPATH=/go'], WorkingDir: '/go', Cmd: ['bash'] } } },
};

describe('reference example', () => {
  test('graph: image → copy from context → go build → copy into scratch', async () => {
    const g = await solve(DOCKERFILE, input);
    expect(names(g)).toEqual([
      `[dev 1/3] FROM ${GOLANG}@sha256:${'ab'.repeat(32)}`,
      '[internal] load build context',
      '[dev 2/3] COPY ./hello.go /hello.go',
      '[dev 3/3] RUN go build -o /hello /hello.go',
      '[stage-1 1/1] COPY --from=dev /hello /',
    ]);
    const [img, ctx, copy, run, final] = chain(g);
    expect(img.op).toEqual({ op: 'source.image', ref: GOLANG, platform: { os: 'linux', architecture: 'amd64' } });
    expect(ctx.op).toEqual({ op: 'source.local', name: 'context' });
    expect(asFile(copy.op)).toEqual({
      op: 'file', base: img.id,
      actions: [{ action: 'copy', src: ctx.id, srcPaths: ['/hello.go'], dest: '/hello.go', followSymlinks: true, dirContentsOnly: true, allowWildcard: true, allowEmptyWildcard: true, createDestPath: true, attemptUnpack: false }],
    });
    const exec = asExec(run.op);
    expect(exec.args).toEqual(['/bin/sh', '-c', 'go build -o /hello /hello.go']);
    expect(exec.env).toEqual(['PATH=/go/bin:/usr/local/go/bin:/usr/bin:/bin', 'GOPATH=/go']);
    expect(exec.cwd).toBe('/go');
    expect(exec.mounts).toEqual([{ type: 'bind', target: '/', input: copy.id, output: true }]);
    const fin = asFile(final.op);
    expect(fin.base).toBeNull();
    expect(fin.actions[0]).toMatchObject({ src: run.id, srcPaths: ['/hello'], dest: '/' });
    expect(g.root).toBe(final.id);
  });

  test('image config and history of the scratch target', async () => {
    const g = await solve(DOCKERFILE, input);
    expect(g.image.config).toEqual({ Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] });
    expect(g.image.baseImage).toBeUndefined();
    expect(g.image.history).toEqual([{ created_by: 'COPY /hello / # buildkit', comment: 'buildkit.dockerfile.v0' }]);
  });

  test('target dev: its config comes from the base image, history from its steps', async () => {
    const g = await solve(DOCKERFILE, { ...input, opts: { target: 'dev' } });
    expect(g.image.baseImage).toBe(GOLANG);
    expect(g.image.config.Cmd).toEqual(['bash']);
    expect(createdBy(g)).toEqual(['COPY ./hello.go /hello.go # buildkit', 'RUN /bin/sh -c go build -o /hello /hello.go # buildkit']);
  });

  test('vertex ids are identical across builds and depend on content', async () => {
    const a = await solve(DOCKERFILE, input);
    const b = await solve(DOCKERFILE, input);
    expect(Object.keys(a.vertices).sort()).toEqual(Object.keys(b.vertices).sort());
    expect(a.root).toBe(b.root);
    const c = await solve(DOCKERFILE.replace('-o /hello', '-o /hello2'), input);
    expect(c.root).not.toBe(a.root);
    for (const v of Object.values(a.vertices)) expect(v.id).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
