// --addr values, buildkitd style: unix:///path/to.sock or tcp://host:port.
export type DaemonAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

export const DEFAULT_SOCKET = '/run/edgebuild/edgebuild.sock';

export function parseAddress(text: string): DaemonAddress {
  if (text.startsWith('unix://')) {
    const path = text.slice('unix://'.length);
    if (!path.startsWith('/')) throw new Error(`address ${text}: unix socket path must be absolute (unix:///path)`);
    return { kind: 'unix', path };
  }
  if (text.startsWith('tcp://')) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.slice('tcp://'.length));
    const port = m ? Number(m[2]) : NaN;
    if (!m || port < 1 || port > 65535) throw new Error(`address ${text}: expected tcp://HOST:PORT`);
    return { kind: 'tcp', host: m[1], port };
  }
  throw new Error(`address ${JSON.stringify(text)}: expected unix:///path or tcp://host:port`);
}

export const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);
