// The OCI runtime spec (config.json) for one RUN: Docker's defaults for capabilities, masked and
// read-only paths and the /proc /dev /sys mounts; the network namespace per the request.
import type { ExecRequest } from '../../core/executor/types.ts';
import { seccompProfile } from './seccomp.ts';
import type { ResolvedUser } from './user.ts';

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options?: string[];
}

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function systemMounts(ownNetns: boolean): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // sysfs belongs to a network namespace: in the host's, bind the host's read-only instead.
    ownNetns
      ? { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] },
  ];
}

export interface SpecInput {
  req: ExecRequest;
  user: ResolvedUser;
  rootfs: string;
  readonlyRoot: boolean;
  hostname: string;
  /** Bind mounts prepared by the executor: resolv.conf, hosts, extra mounts, secrets. */
  mounts: OciMount[];
}

export function buildSpec({ req, user, rootfs, readonlyRoot, hostname, mounts }: SpecInput): Record<string, unknown> {
  const env = [...req.env];
  if (!env.some((e) => e.startsWith('PATH='))) env.push(`PATH=${DEFAULT_PATH}`);
  if (!env.some((e) => e.startsWith('HOME='))) env.push(`HOME=${user.home}`);
  // "none" gets a network namespace of its own (runc brings up lo); "default" and "host" share
  // the host's: a builder without CNI, like BuildKit's oci worker with --oci-worker-net=host.
  const ownNetns = req.network === 'none';
  const caps = DEFAULT_CAPABILITIES;
  // As Docker: a non-root process starts with no effective capabilities, only the bounding set.
  const active = user.uid === 0 ? caps : [];
  const tmpfs: OciMount[] = (req.tmpfs ?? []).map((t) => ({
    destination: t.destination,
    type: 'tmpfs',
    source: 'tmpfs',
    options: ['nosuid', 'nodev', 'mode=1777', ...(t.size ? [`size=${t.size}`] : [])],
  }));
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, umask: 0o022 },
      args: req.args,
      env,
      cwd: req.cwd || '/',
      capabilities: { bounding: caps, effective: active, permitted: active },
      noNewPrivileges: false,
    },
    root: { path: rootfs, readonly: readonlyRoot },
    hostname,
    mounts: [...systemMounts(ownNetns), ...mounts, ...tmpfs],
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, ...(ownNetns ? [{ type: 'network' }] : [])],
      seccomp: seccompProfile(),
      maskedPaths: MASKED_PATHS,
      readonlyPaths: READONLY_PATHS,
    },
  };
}
