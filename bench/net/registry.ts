// The bench registry: Debian's docker-registry with filesystem storage kept in the bench cache
// (pushed and converted images survive between benches), listening either inside bench's network
// namespace or on a loopback port.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import type { BenchNetns } from './netns.ts';

export interface BenchRegistry {
  /** Where the registry listens (inside the namespace, or loopback). */
  listen: { host: string; port: number };
  storageDir: string;
  stop(): Promise<void>;
  /** For process exit: the registry is killed at once (a namespace's processes outlive its name). */
  killSync(): void;
}

async function freeLoopbackPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function startBenchRegistry(cacheDir: string, netns?: BenchNetns): Promise<BenchRegistry> {
  const dir = join(cacheDir, 'registry');
  const storageDir = join(dir, 'storage');
  mkdirSync(storageDir, { recursive: true });
  const listen = netns ? { host: netns.nsAddr, port: 5000 } : { host: '127.0.0.1', port: await freeLoopbackPort() };
  const configPath = join(dir, `config-${process.pid}.yml`);
  writeFileSync(
    configPath,
    `version: 0.1
log:
  level: warn
  formatter: text
storage:
  filesystem:
    rootdirectory: ${storageDir}
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: ${listen.host}:${listen.port}
  secret: edgebuild-bench
`,
  );
  const logPath = join(dir, `registry-${process.pid}.log`);
  const argv = ['/usr/bin/docker-registry', 'serve', configPath];
  const proc = Bun.spawn(netns ? ['ip', 'netns', 'exec', netns.name, ...argv] : argv, {
    stdout: Bun.file(logPath),
    stderr: Bun.file(logPath),
    env: { ...process.env, OTEL_TRACES_EXPORTER: 'none' },
  });
  const log = () => {
    try {
      return readFileSync(logPath, 'utf8').slice(-1500);
    } catch {
      return '';
    }
  };
  const stop = async () => {
    proc.kill('SIGTERM');
    await Promise.race([proc.exited, Bun.sleep(3000)]);
    if (proc.exitCode === null) proc.kill('SIGKILL');
    rmSync(configPath, { force: true });
    rmSync(logPath, { force: true });
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`docker-registry exited (${proc.exitCode}) before serving: ${log()}`);
    try {
      const res = await fetch(`http://${listen.host}:${listen.port}/v2/`);
      await res.body?.cancel();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`docker-registry on ${listen.host}:${listen.port} did not become ready: ${log()}`);
    }
    await Bun.sleep(50);
  }
  return { listen, storageDir, stop, killSync: () => void proc.kill('SIGKILL') };
}
