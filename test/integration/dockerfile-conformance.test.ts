// End-to-end Dockerfile conformance: real runc, real overlayfs, a Debian base from a loopback
// registry. Each case asserts the files the build produced and the image metadata it wrote.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type TestRegistry } from '../harness/registry.ts';
import { testImage } from '../harness/images.ts';
import { edgebuild, mountsUnder } from '../harness/edgebuild.ts';

let reg: TestRegistry;
let work: string;
let root: string;
let base: string;

beforeAll(async () => {
  const layout = await testImage('debian-base');
  reg = await startRegistry();
  base = `${reg.host}/debian:bookworm`;
  const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${base}`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  work = fs.mkdtempSync(join(tmpdir(), 'eb-conf-'));
  root = join(work, 'root');
}, 600_000);

afterAll(async () => {
  await reg?.stop();
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

interface Built {
  rootfs: string;
  config: any;
  err: string;
}

/** Builds `dockerfile` with `files` as context; returns the local export and the OCI config. */
async function build(dockerfile: string, files: Record<string, string> = {}, extra: string[] = [], prepare?: (dir: string) => void): Promise<Built> {
  const dir = fs.mkdtempSync(join(work, 'ctx-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(join(dir, name, '..'), { recursive: true });
    fs.writeFileSync(join(dir, name), text);
  }
  prepare?.(dir);
  fs.writeFileSync(join(dir, 'Dockerfile'), dockerfile.replaceAll('BASE', base));
  const out = join(dir, 'out');
  const oci = join(dir, 'oci');
  const r = await edgebuild(['--root', root, 'build', '--local', `context=${dir}`, '--local', `dockerfile=${dir}`, '--progress', 'plain',
    '--output', `type=local,dest=${out}`, '--output', `type=oci,dest=${oci},tar=false`, ...extra]);
  if (r.code !== 0) throw new Error(`build failed (${r.code}):\n${r.err}`);
  const index = JSON.parse(fs.readFileSync(join(oci, 'index.json'), 'utf8'));
  const blob = (d: string) => JSON.parse(fs.readFileSync(join(oci, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const manifest = blob(index.manifests[0].digest);
  return { rootfs: out, config: blob(manifest.config.digest), err: r.err };
}

const read = (b: Built, p: string) => fs.readFileSync(join(b.rootfs, p), 'utf8');

describe('Dockerfile conformance [slow]', () => {
  test('ENV, ARG scopes, WORKDIR, USER, RUN shell/exec forms, heredocs', async () => {
    const b = await build(
      `ARG GLOBAL=g1
FROM BASE
ARG GLOBAL
ARG LOCAL=l1
ENV A=1 B="two words" C=\${LOCAL:-x}
WORKDIR /srv
WORKDIR app
RUN echo "$A|$B|$C|$GLOBAL|$(pwd)" > env.txt
RUN ["/bin/sh", "-c", "echo exec-form > /srv/app/exec.txt"]
RUN <<EOF
echo heredoc-line1 > /srv/app/heredoc.txt
echo heredoc-line2 >> /srv/app/heredoc.txt
EOF
COPY <<EOT /srv/app/inline.txt
inline \${A}
EOT
RUN useradd -u 1234 -m appuser
USER appuser
RUN id -u > /tmp/uid && cp /tmp/uid /home/appuser/uid
USER root
`, {}, ['--opt', 'build-arg:LOCAL=override']);
    expect(read(b, 'srv/app/env.txt')).toBe('1|two words|override|g1|/srv/app\n');
    expect(read(b, 'srv/app/exec.txt')).toBe('exec-form\n');
    expect(read(b, 'srv/app/heredoc.txt')).toBe('heredoc-line1\nheredoc-line2\n');
    expect(read(b, 'srv/app/inline.txt')).toBe('inline 1\n');
    expect(read(b, 'home/appuser/uid')).toBe('1234\n');
    expect(b.config.config.Env).toContain('B=two words');
    expect(b.config.config.Env).toContain('C=override');
    expect(b.config.config.WorkingDir).toBe('/srv/app');
    expect(b.config.config.User).toBe('root');
    expect(b.config.rootfs.diff_ids.length).toBe(b.config.history.filter((h: any) => !h.empty_layer).length);
  }, 300_000);

  test('COPY/ADD: --chown, --chmod, wildcards, directory contents, .dockerignore, ADD tar, --from stage, --link', async () => {
    const b = await build(
      `FROM BASE AS first
RUN mkdir -p /made && echo from-first > /made/f.txt
FROM BASE
COPY --chown=1000:1001 --chmod=640 a.txt /dst/
COPY *.go /src/
COPY dir/ /dircontents/
COPY . /all/
ADD arch.tgz /unpacked/
COPY --from=first /made/f.txt /fromstage.txt
COPY --link b.go /linked/b.go
`,
      { 'a.txt': 'A', 'b.go': 'B', 'c.go': 'C', 'dir/x': 'X', 'dir/sub/y': 'Y', 'secret.key': 'nope', '.dockerignore': 'secret.key\n' },
      [],
      (dir) => Bun.spawnSync(['tar', '-czf', join(dir, 'arch.tgz'), '-C', join(dir, 'dir'), '.']),
    );
    const st = fs.statSync(join(b.rootfs, 'dst/a.txt'));
    expect([st.uid, st.gid, st.mode & 0o777]).toEqual([1000, 1001, 0o640]);
    expect(fs.readdirSync(join(b.rootfs, 'src')).sort()).toEqual(['b.go', 'c.go']);
    expect(fs.readdirSync(join(b.rootfs, 'dircontents')).sort()).toEqual(['sub', 'x']);
    expect(fs.existsSync(join(b.rootfs, 'all/secret.key'))).toBe(false);
    expect(fs.existsSync(join(b.rootfs, 'all/a.txt'))).toBe(true);
    expect(read(b, 'unpacked/sub/y')).toBe('Y');
    expect(read(b, 'fromstage.txt')).toBe('from-first\n');
    expect(read(b, 'linked/b.go')).toBe('B');
  }, 300_000);

  test('metadata: LABEL, EXPOSE, VOLUME, ENTRYPOINT/CMD, SHELL, STOPSIGNAL, HEALTHCHECK, ONBUILD, history', async () => {
    const b = await build(`FROM BASE
LABEL org.example.a="1" b=two
EXPOSE 80 53/udp
VOLUME ["/data"]
SHELL ["/bin/bash", "-c"]
RUN echo "$BASH_VERSION" | cut -c1 > /bashver
ENTRYPOINT ["/bin/echo"]
CMD ["hello"]
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD true
ONBUILD RUN echo child
`);
    const c = b.config.config;
    expect(c.Labels).toEqual({ 'org.example.a': '1', b: 'two' });
    expect(Object.keys(c.ExposedPorts).sort()).toEqual(['53/udp', '80/tcp']);
    expect(Object.keys(c.Volumes)).toEqual(['/data']);
    expect(c.Entrypoint).toEqual(['/bin/echo']);
    expect(c.Cmd).toEqual(['hello']);
    expect(c.Shell).toEqual(['/bin/bash', '-c']);
    expect(c.StopSignal).toBe('SIGTERM');
    expect(c.Healthcheck).toEqual({ Test: ['CMD-SHELL', 'true'], Interval: 30e9, Timeout: 5e9, Retries: 2 });
    expect(c.OnBuild).toEqual(['RUN echo child']);
    expect(read(b, 'bashver')).toBe('5\n');
    const createdBy = b.config.history.map((h: any) => h.created_by);
    expect(createdBy.some((s: string) => s.includes('RUN /bin/bash -c echo "$BASH_VERSION"'))).toBe(true);
  }, 300_000);

  test('RUN --mount=type=cache persists, type=secret is readable but never stored, --network=none', async () => {
    const secretFile = join(work, 'secret.txt');
    fs.writeFileSync(secretFile, 'TOPSECRET-123');
    const df = `FROM BASE
RUN --mount=type=cache,target=/cache sh -c 'echo x >> /cache/count; wc -l < /cache/count > /count.txt'
RUN --mount=type=secret,id=tok sh -c 'cat /run/secrets/tok | wc -c > /secretlen'
RUN --mount=type=secret,id=tok,env=TOK sh -c 'echo \${#TOK} > /envlen'
RUN --network=none sh -c 'ls /sys/class/net | sort | tr "\\n" " " > /netifs'
`;
    const b = await build(df, {}, ['--secret', `id=tok,src=${secretFile}`, '--no-cache']);
    expect(read(b, 'count.txt').trim()).toBe('1');
    expect(read(b, 'secretlen').trim()).toBe('13');
    expect(read(b, 'envlen').trim()).toBe('13');
    expect(read(b, 'netifs').trim()).toBe('lo');
    expect(fs.existsSync(join(b.rootfs, 'run/secrets/tok'))).toBe(false);
    expect(b.err).not.toContain('TOPSECRET');
    const grep = Bun.spawnSync(['grep', '-r', '-l', 'TOPSECRET-123', root]);
    expect(grep.stdout.toString()).toBe('');
    const again = await build(df, {}, ['--secret', `id=tok,src=${secretFile}`, '--no-cache']);
    expect(read(again, 'count.txt').trim()).toBe('2');
    expect(await mountsUnder(root)).toEqual([]);
  }, 300_000);

  test('SOURCE_DATE_EPOCH makes the image reproducible', async () => {
    const df = 'FROM BASE\nRUN echo stable > /f\n';
    const configs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const b = await build(df, {}, ['--opt', 'build-arg:SOURCE_DATE_EPOCH=1700000000', '--no-cache']);
      configs.push(JSON.stringify(b.config));
    }
    expect(configs[0]).toBe(configs[1]);
    expect(JSON.parse(configs[0]).created).toBe('2023-11-14T22:13:20Z');
  }, 300_000);
});
