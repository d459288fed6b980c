// The reference example of ../shared/reference/buildkit-stargz-lazy-pull.md, built with the
// overlay snapshotter (full pull), plus cache behaviour, exports and failure cleanup.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder, runcContainers } from '../harness/edgebuild.ts';

let reg: TestRegistry;
let work: string;
let root: string;
let base: string;

const HELLO_GO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n';
const dockerfile = (baseRef: string) => `# Uses eStargz-formatted golang image as the base image. This isn't pulled here.
FROM ${baseRef} AS dev
# Copies the source code from the context. The base image is mounted and lazily pulled.
COPY ./hello.go /hello.go
# Runs go compiler on that base image. The base image is mounted and lazily pulled.
RUN go build -o /hello /hello.go
FROM scratch
# Harvesting the result binary.
COPY --from=dev /hello /
`;

beforeAll(async () => {
  const layout = await testImage('golang');
  reg = await startRegistry();
  base = `${reg.host}/golang:1.19`;
  const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${base}`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  work = fs.mkdtempSync(join(tmpdir(), 'eb-ref-'));
  root = join(work, 'root');
  fs.mkdirSync(join(work, 'hello'));
  fs.writeFileSync(join(work, 'hello', 'hello.go'), HELLO_GO);
  fs.writeFileSync(join(work, 'hello', 'Dockerfile'), dockerfile(base));
}, 900_000);

afterAll(async () => {
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

const build = (extra: string[], dir = join(work, 'hello')) =>
  edgebuild(['--root', root, 'build', '--frontend', 'dockerfile.v0', '--local', `context=${dir}`, '--local', `dockerfile=${dir}`, '--progress', 'plain', ...extra]);

describe('reference example [slow]', () => {
  test('builds verbatim and the exported hello prints Hello, world!', async () => {
    const dest = join(work, 'out');
    const r = await build(['--output', `type=local,dest=${dest}`]);
    expect(r.err).toContain('RUN go build -o /hello /hello.go');
    expect(r.code).toBe(0);
    expect(fs.readdirSync(dest)).toEqual(['hello']);
    const run = Bun.spawnSync([join(dest, 'hello')]);
    expect(run.stdout.toString()).toBe('Hello, world!\n');
  }, 600_000);

  test('a second build is fully CACHED; editing hello.go re-runs only the steps after it', async () => {
    const again = await build(['--output', `type=local,dest=${join(work, 'out2')}`]);
    expect(again.code).toBe(0);
    const steps = again.err.split('\n').filter((l) => /^#\d+ \[(dev|stage-1) /.test(l));
    expect(steps.length).toBeGreaterThanOrEqual(3);
    for (const l of steps.filter((l) => !l.includes(' FROM '))) {
      const n = l.split(' ')[0];
      expect(again.err).toContain(`${n} CACHED`);
    }
    fs.writeFileSync(join(work, 'hello', 'hello.go'), HELLO_GO.replace('Hello, world!', 'Hello, edge!'));
    try {
      const edited = await build(['--output', `type=local,dest=${join(work, 'out3')}`]);
      expect(edited.code).toBe(0);
      expect(edited.err).not.toMatch(/COPY \.\/hello\.go \/hello\.go\n#\d+ CACHED/);
      expect(Bun.spawnSync([join(work, 'out3', 'hello')]).stdout.toString()).toBe('Hello, edge!\n');
    } finally {
      fs.writeFileSync(join(work, 'hello', 'hello.go'), HELLO_GO);
    }
  }, 600_000);

  test('the OCI export is read by skopeo and umoci unpacks the same tree as the local export', async () => {
    const tar = join(work, 'hello.oci.tar');
    const r = await build(['--output', `type=oci,dest=${tar},name=hello:1`]);
    expect(r.code).toBe(0);
    const layout = join(work, 'layout');
    const cp = Bun.spawnSync(['skopeo', 'copy', '--quiet', `oci-archive:${tar}`, `oci:${layout}:hello`], { stderr: 'pipe' });
    expect(cp.stderr.toString()).toBe('');
    expect(cp.exitCode).toBe(0);
    const bundle = join(work, 'bundle');
    const un = Bun.spawnSync(['umoci', 'unpack', '--image', `${layout}:hello`, bundle], { stderr: 'pipe' });
    expect(un.exitCode).toBe(0);
    expect(fs.readdirSync(join(bundle, 'rootfs'))).toEqual(['hello']);
    const a = fs.readFileSync(join(bundle, 'rootfs', 'hello'));
    const b = fs.readFileSync(join(work, 'out', 'hello'));
    expect(Bun.hash(a)).toBe(Bun.hash(b));
    expect(fs.statSync(join(bundle, 'rootfs', 'hello')).mode & 0o777).toBe(fs.statSync(join(work, 'out', 'hello')).mode & 0o777);
  }, 600_000);

  test('a failing RUN names the step, exit code and last output; nothing is left behind', async () => {
    const dir = join(work, 'failing');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, 'Dockerfile'), `FROM ${base}\nRUN echo first-line && echo boom-output >&2 && exit 3\n`);
    const dest = join(work, 'never');
    const r = await build(['--output', `type=local,dest=${dest}`], dir);
    expect(r.code).toBe(1);
    const last = r.err.trim().split('\n');
    expect(r.err).toContain('did not complete successfully: exit code: 3');
    expect(r.err).toContain('boom-output');
    expect(last.filter((l) => l.startsWith('edgebuild: build failed:')).length).toBe(1);
    expect(fs.existsSync(dest)).toBe(false);
    expect(await mountsUnder(root)).toEqual([]);
    expect(runcContainers(root)).toEqual([]);
  }, 600_000);

  test.each([
    ['syntax error', 'FROM scratch\nCOPY --nope=1 a /\n', /Dockerfile:2/],
    ['unknown instruction', 'FROM scratch\nFROBNICATE x\n', /Dockerfile:2.*(unknown instruction|FROBNICATE)/i],
    ['COPY --from an unknown stage', 'FROM scratch\nCOPY --from=NoSuchStage /a /a\n', /NoSuchStage/],
    ['a missing context file', 'FROM scratch\nCOPY missing.txt /\n', /missing\.txt.*not found|not found.*missing\.txt/],
  ])('bad input: %s gives one error line and no output [slow]', async (_name, text, pattern) => {
    const dir = fs.mkdtempSync(join(work, 'bad-'));
    fs.writeFileSync(join(dir, 'Dockerfile'), text);
    const dest = join(dir, 'out');
    const r = await build(['--output', `type=local,dest=${dest}`], dir);
    expect(r.code).not.toBe(0);
    const errLines = r.err.split('\n').filter((l) => l.startsWith('edgebuild:'));
    expect(errLines.length).toBe(1);
    expect(errLines[0]).toMatch(pattern);
    expect(fs.existsSync(dest)).toBe(false);
    expect(await mountsUnder(root)).toEqual([]);
  }, 120_000);

  test('an undefined target stage is an error naming it [slow]', async () => {
    const r = await build(['--opt', 'target=nope', '--output', `type=local,dest=${join(work, 'x')}`]);
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(/edgebuild: .*nope/);
  });
});
