// The demo: a Debian-built golang image (made once, cached), converted to eStargz, served by
// Debian's docker-registry on loopback; then the BuildKit reference example is built twice from a
// cold root — with full pull (overlay) and lazily (stargz) — and the bytes fetched are compared.
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../test/harness/registry.ts';
import { testImage } from '../test/harness/images.ts';

const repo = join(import.meta.dir, '..');
const bin = join(repo, 'dist', 'edgebuild');
const say = (s: string) => console.log(`demo: ${s}`);

function run(argv: string[], opts: { quiet?: boolean } = {}): { code: number; out: string; err: string; secs: number } {
  const t0 = performance.now();
  const p = Bun.spawnSync(argv, { stdout: 'pipe', stderr: opts.quiet ? 'pipe' : 'inherit', env: { ...process.env, EDGEBUILD_CONFIG: '' } });
  const r = { code: p.exitCode, out: p.stdout.toString(), err: p.stderr?.toString() ?? '', secs: (performance.now() - t0) / 1000 };
  if (r.code !== 0) throw new Error(`${argv.join(' ')} failed (${r.code})\n${r.err}`);
  return r;
}

say('preparing the golang base image (debootstrap + golang-go; first run only, a few minutes)');
const layout = await testImage('golang');
const reg = await startRegistry();
const work = fs.mkdtempSync(join(tmpdir(), 'edgebuild-demo-'));
try {
  const plain = `${reg.host}/golang:1.19`;
  const esgz = `${reg.host}/golang:1.19-esgz`;
  run(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${plain}`]);
  say(`converting ${plain} to eStargz → ${esgz}`);
  run([bin, '--root', join(work, 'convert-root'), 'convert', '--estargz', '--oci', plain, esgz]);

  const ctx = join(work, 'hello');
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, 'hello.go'), 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n');
  const dockerfile = (base: string) =>
    `FROM ${base} AS dev\nCOPY ./hello.go /hello.go\nRUN go build -o /hello /hello.go\nFROM scratch\nCOPY --from=dev /hello /\n`;
  const results: Record<string, number> = {};
  for (const [name, base, snapshotter] of [
    ['full pull (overlay)', plain, 'overlay'],
    ['lazy pull (stargz)', esgz, 'stargz'],
  ] as const) {
    fs.writeFileSync(join(ctx, 'Dockerfile'), dockerfile(base));
    const out = join(work, `out-${snapshotter}`);
    say(`building the reference example, ${name}`);
    const r = run([bin, '--root', join(work, `root-${snapshotter}`), 'build', '--frontend', 'dockerfile.v0', '--local', `context=${ctx}`, '--local', `dockerfile=${ctx}`,
      '--snapshotter', snapshotter, '--progress', 'plain', '--output', `type=local,dest=${out}`]);
    results[name] = r.secs;
    const hello = run([join(out, 'hello')]).out.trim();
    say(`${name}: ${r.secs.toFixed(1)} s, ./hello prints "${hello}"`);
  }
  say(`lazy pull took ${(results['lazy pull (stargz)'] / results['full pull (overlay)']).toFixed(2)}× the time of the full pull (loopback, cold)`);
} finally {
  await reg.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
