// Registry cache benchmark (by hand, not a timed test): the reference example (golang base,
// COPY hello.go, RUN go build, FROM scratch + COPY --from) built
//   cold    on an empty root, no cache import
//   cached  on a second empty root importing the cache a first root exported (mode=max)
// against a loopback distribution registry behind a byte-counting proxy. Reports wall time and
// bytes fetched from the registry. Run: npx bun bench/cache.ts   (RUNS=3 by default)
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry } from '../test/harness/registry.ts';
import { testImage } from '../test/harness/images.ts';
import { edgebuild } from '../test/harness/edgebuild.ts';

const RUNS = Number(process.env.RUNS ?? 3);

/** A loopback proxy that counts response body bytes (what a remote registry would send). */
function byteCounter(upstream: string) {
  let bytes = 0;
  let requests = 0;
  let self = '';
  const server = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      requests++;
      const headers = new Headers(req.headers);
      headers.set('host', upstream);
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      const res = await fetch(`http://${upstream}${url.pathname}${url.search}`, { method: req.method, headers, body, redirect: 'manual', decompress: false } as RequestInit);
      const out = new Headers(res.headers);
      const loc = out.get('location');
      if (loc) out.set('location', loc.replace(`//${upstream}`, `//${self}`));
      if (req.method === 'HEAD' || !res.body) return new Response(null, { status: res.status, headers: out });
      const counted = res.body.pipeThrough(new TransformStream<Uint8Array, Uint8Array>({ transform: (c, ctrl) => void ((bytes += c.length), ctrl.enqueue(c)) }));
      return new Response(counted, { status: res.status, headers: out });
    },
  });
  self = `127.0.0.1:${server.port}`;
  return { host: self, reset: () => void ((bytes = 0), (requests = 0)), get: () => ({ bytes, requests }), stop: () => server.stop(true) };
}

const HELLO = 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("Hello, world!")\n}\n';

const layout = await testImage('golang');
const reg = await startRegistry();
const proxy = byteCounter(reg.host);
const work = fs.mkdtempSync(join(tmpdir(), 'eb-bench-cache-'));
try {
  const base = `${proxy.host}/golang:1.19`;
  const p = Bun.spawnSync(['skopeo', 'copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:latest`, `docker://${reg.host}/golang:1.19`], { stderr: 'pipe' });
  if (p.exitCode !== 0) throw new Error(`skopeo copy failed: ${p.stderr}`);
  const ctx = join(work, 'hello');
  fs.mkdirSync(ctx);
  fs.writeFileSync(join(ctx, 'hello.go'), HELLO);
  fs.writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base} AS dev\nCOPY ./hello.go /hello.go\nRUN go build -o /hello /hello.go\nFROM scratch\nCOPY --from=dev /hello /\n`);
  const cacheRef = `${proxy.host}/cache/hello:bench`;

  const build = async (root: string, extra: string[]) => {
    proxy.reset();
    const t0 = performance.now();
    const r = await edgebuild(['--root', root, 'build', '--progress', 'plain', '-o', `type=local,dest=${join(root, '..', `out-${Date.now()}`)}`, ...extra, ctx]);
    const ms = performance.now() - t0;
    if (r.code !== 0) throw new Error(`build failed:\n${r.err}`);
    return { ms, ...proxy.get(), err: r.err };
  };

  // Export once from a warm root.
  const exporter = join(work, 'exporter');
  const ex = await build(exporter, ['--export-cache', `type=registry,ref=${cacheRef},mode=max`]);
  console.log(`export build (cold + export): ${(ex.ms / 1000).toFixed(1)} s; ${ex.err.split('\n').find((l) => l.includes('cache exported')) ?? ''}`);

  const rows: { kind: string; ms: number; bytes: number; requests: number }[] = [];
  for (let i = 0; i < RUNS; i++) {
    const cold = await build(join(work, `cold-${i}`, 'root'), []);
    rows.push({ kind: 'cold', ms: cold.ms, bytes: cold.bytes, requests: cold.requests });
    const cached = await build(join(work, `cached-${i}`, 'root'), ['--import-cache', `type=registry,ref=${cacheRef}`]);
    if (!/RUN go build[^\n]*\n#\d+ CACHED/.test(cached.err)) throw new Error(`second-host build did not hit the cache:\n${cached.err}`);
    rows.push({ kind: 'cached', ms: cached.ms, bytes: cached.bytes, requests: cached.requests });
    fs.rmSync(join(work, `cold-${i}`), { recursive: true, force: true });
    fs.rmSync(join(work, `cached-${i}`), { recursive: true, force: true });
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(`\n${RUNS} runs each, median (loopback registry, 2-core machine):`);
  console.log('build                         wall time   fetched from registry   requests');
  for (const kind of ['cold', 'cached']) {
    const rs = rows.filter((r) => r.kind === kind);
    const label = kind === 'cold' ? 'cold (empty root, no cache)' : 'second host (registry cache)';
    console.log(`${label.padEnd(30)}${(median(rs.map((r) => r.ms)) / 1000).toFixed(2).padStart(7)} s   ${(median(rs.map((r) => r.bytes)) / 1e6).toFixed(2).padStart(10)} MB          ${median(rs.map((r) => r.requests))}`);
  }
} finally {
  proxy.stop();
  await reg.stop();
  fs.rmSync(work, { recursive: true, force: true });
}
