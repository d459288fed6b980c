// COPY and ADD: sources, destinations, flags, heredocs, URLs, .dockerignore on the context.
import { describe, expect, test } from 'bun:test';
import type { CopyAction } from '../../../core/graph/ops.ts';
import { asFile, chain, createdBy, rootOp, solve } from './helpers.ts';

const images = { base: { config: { Env: ['PATH=/bin'] } } };
const build = (body: string, extra: Parameters<typeof solve>[1] = {}) => solve(`FROM base\n${body}`, { images, context: {}, ...extra });
const actions = async (body: string) => asFile(rootOp(await build(body))).actions as CopyAction[];

describe('COPY', () => {
  test('several sources into a directory with --chown and --chmod', async () => {
    const g = await build('COPY --chown=app:staff --chmod=0640 a.txt dir/ /dst/');
    const acts = asFile(rootOp(g)).actions as CopyAction[];
    expect(acts.map((a) => [a.srcPaths, a.dest, a.chown, a.chmod])).toEqual([
      [['/a.txt'], '/dst/', { user: 'app', group: 'staff' }, 0o640],
      [['/dir'], '/dst/', { user: 'app', group: 'staff' }, 0o640],
    ]);
    expect(acts[0]).toMatchObject({ dirContentsOnly: true, followSymlinks: true, allowWildcard: true, allowEmptyWildcard: true, createDestPath: true, attemptUnpack: false });
    expect(createdBy(g)).toEqual(['COPY --chown=app:staff --chmod=0640 a.txt dir/ /dst/ # buildkit']);
  });

  test('destination is relative to WORKDIR; "." means into it', async () => {
    expect((await actions('WORKDIR /app\nCOPY . .'))[0]).toMatchObject({ srcPaths: ['/'], dest: '/app/' });
    expect((await actions('WORKDIR /app\nCOPY x sub/y'))[0].dest).toBe('/app/sub/y');
    expect((await actions('COPY ../../x /abs/'))[0]).toMatchObject({ srcPaths: ['/x'], dest: '/abs/' });
  });

  test('wildcards and JSON form', async () => {
    expect((await actions('COPY *.go go.* /src/'))[0].srcPaths).toEqual(['/*.go']);
    expect((await actions('COPY ["my file", "/d e/"]'))[0]).toMatchObject({ srcPaths: ['/my file'], dest: '/d e/' });
  });

  test('variables in sources, destination and --chown are expanded', async () => {
    const acts = await actions('ARG U=1000\nENV D=/opt/app\nCOPY --chown=${U}:$U src/$U.txt $D/');
    expect(acts[0]).toMatchObject({ srcPaths: ['/src/1000.txt'], dest: '/opt/app/', chown: { user: '1000', group: '1000' } });
  });

  test('--exclude patterns (expanded)', async () => {
    expect((await actions('ARG X=tmp\nCOPY --exclude=*.md --exclude=$X . /app/'))[0].exclude).toEqual(['*.md', 'tmp']);
  });

  test('--link copies onto an empty base and merges it over the stage', async () => {
    const g = await build('RUN make\nCOPY --link a /a');
    const merge = rootOp(g);
    expect(merge.op).toBe('merge');
    if (merge.op !== 'merge') return;
    const [below, layer] = merge.inputs;
    expect(g.vertices[below].op.op).toBe('exec');
    const file = asFile(g.vertices[layer].op);
    expect(file.base).toBeNull();
    expect(file.actions[0]).toMatchObject({ link: true, dest: '/a' });
  });

  test('--link on scratch is just the copy', async () => {
    const g = await solve('FROM scratch\nCOPY --link a /a', { context: {} });
    expect(asFile(rootOp(g)).base).toBeNull();
  });

  test('heredoc source: expanded unless the delimiter is quoted; written 0644, --chmod applied by the copy', async () => {
    const g = await build('ARG NAME=world\nCOPY --chmod=0600 <<EOF <<"RAW" /etc/\nhello $NAME\nEOF\nkeep $NAME\nRAW');
    const acts = asFile(rootOp(g)).actions as CopyAction[];
    const files = acts.map((a) => asFile(g.vertices[a.src!].op).actions[0]);
    expect(files).toEqual([
      { action: 'mkfile', path: '/EOF', mode: 0o644, data: 'hello world\n' },
      { action: 'mkfile', path: '/RAW', mode: 0o644, data: 'keep $NAME\n' },
    ]);
    expect(acts.map((a) => [a.srcPaths, a.dest, a.chmod])).toEqual([[['/EOF'], '/etc/', 0o600], [['/RAW'], '/etc/', 0o600]]);
    expect(createdBy(g).at(-1)).toBe('COPY --chmod=0600 <<EOF <<RAW /etc/ # buildkit');
    expect(g.vertices[acts[0].src!].meta.name).toBe('[internal] preparing inline document');
  });

  test('paths come before heredocs, as BuildKit orders them', async () => {
    const g = await build('COPY <<EOF a.txt /d/\nx\nEOF');
    expect((asFile(rootOp(g)).actions as CopyAction[]).map((a) => a.srcPaths[0])).toEqual(['/a.txt', '/EOF']);
    expect(createdBy(g)).toEqual(['COPY a.txt <<EOF /d/ # buildkit']);
  });

  test('COPY <<EOF /path writes that file (default 0644); <<- strips tabs', async () => {
    const g = await build('COPY <<-EOF /app/run.sh\n\techo "hi"\n\tEOF');
    const act = asFile(rootOp(g)).actions[0] as CopyAction;
    expect(act.dest).toBe('/app/run.sh');
    expect(asFile(g.vertices[act.src!].op).actions[0]).toEqual({ action: 'mkfile', path: '/EOF', mode: 0o644, data: 'echo "hi"\n' });
  });

  test('--link with --chmod is a plain copy (as BuildKit)', async () => {
    const g = await build('RUN make\nCOPY --link --chmod=0755 a /a');
    expect(asFile(rootOp(g)).actions[0]).toMatchObject({ chmod: 0o755 });
    expect((asFile(rootOp(g)).actions[0] as CopyAction).link).toBeUndefined();
  });

  test('the merge of --link is shown as LINK', async () => {
    const g = await build('RUN make\nCOPY --link a /a');
    expect(g.vertices[g.root].meta.name).toBe('[3/3] LINK COPY --link a /a');
  });
});

describe('ADD', () => {
  test('local archives are unpacked (attemptUnpack)', async () => {
    expect((await actions('ADD app.tar.gz /opt/'))[0]).toMatchObject({ srcPaths: ['/app.tar.gz'], dest: '/opt/', attemptUnpack: true });
  });

  test('http(s) URL with --checksum and --chmod becomes an http source', async () => {
    const sum = 'sha256:' + '12'.repeat(32);
    const g = await build(`ADD --checksum=${sum} --chmod=755 https://example.com/dl/tool.tgz?x=1 /usr/local/bin/`);
    const act = asFile(rootOp(g)).actions[0] as CopyAction;
    expect(g.vertices[act.src!].op).toEqual({ op: 'source.http', url: 'https://example.com/dl/tool.tgz?x=1', checksum: sum, filename: 'tool.tgz' });
    expect(act).toMatchObject({ srcPaths: ['/tool.tgz'], dest: '/usr/local/bin/', chmod: 0o755, attemptUnpack: false, allowWildcard: false });
  });

  test('--unpack overrides archive detection', async () => {
    expect((await actions('ADD --unpack=false app.tar.gz /opt/'))[0].attemptUnpack).toBe(false);
    expect((await actions('ADD --unpack https://example.com/a.tgz /opt/'))[0].attemptUnpack).toBe(true);
  });

  test('a URL without a file name downloads to __unnamed__', async () => {
    const g = await build('ADD http://example.com/ /x');
    expect(chain(g).find((v) => v.op.op === 'source.http')!.op).toMatchObject({ filename: '__unnamed__' });
  });
});

describe('.dockerignore on the build context', () => {
  test('.dockerignore from the context becomes the local source exclude list', async () => {
    const g = await build('COPY . /', { context: { '.dockerignore': '# c\nnode_modules\n!node_modules/keep\n/.git\n' } });
    expect(chain(g).find((v) => v.op.op === 'source.local')!.op).toEqual({ op: 'source.local', name: 'context', exclude: ['node_modules', '!node_modules/keep', '.git'] });
  });

  test('<Dockerfile>.dockerignore next to the Dockerfile wins', async () => {
    const g = await solve('FROM base\nCOPY . /', {
      images,
      opts: { filename: 'build/app.Dockerfile' },
      dockerfileSource: { 'build/app.Dockerfile.dockerignore': 'only-this' },
      context: { '.dockerignore': 'not-this' },
    });
    expect(chain(g).find((v) => v.op.op === 'source.local')!.op).toMatchObject({ exclude: ['only-this'] });
  });

  test('no context source when nothing reads the context', async () => {
    const g = await build('RUN true');
    expect(chain(g).some((v) => v.op.op === 'source.local')).toBe(false);
  });
});
