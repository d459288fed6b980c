// A seccomp filter for RUN steps: everything is allowed except what lets a build step reach the
// kernel beyond its container, which Docker's default profile also refuses. Capabilities already
// stop most of these; the rest (new user namespaces, keyrings, bpf, perf, userfaultfd) they do not.

const DENIED = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'delete_module', 'finit_module',
  'fsconfig', 'fsmount', 'fsopen', 'fspick', 'init_module', 'ioperm', 'iopl', 'kexec_file_load',
  'kexec_load', 'keyctl', 'lookup_dcookie', 'mount', 'move_mount', 'name_to_handle_at',
  'open_by_handle_at', 'open_tree', 'perf_event_open', 'pivot_root', 'quotactl', 'reboot',
  'request_key', 'setns', 'settimeofday', 'swapoff', 'swapon', 'umount2', 'unshare', 'userfaultfd',
];

const EPERM = 1;
const ENOSYS = 38;
const CLONE_NEWUSER = 0x10000000;

const ARCHES: Record<string, string[]> = {
  x64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
};

export function seccompProfile(arch = process.arch): Record<string, unknown> {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ARCHES[arch] ?? [],
    syscalls: [
      { names: DENIED, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // A new user namespace through clone(2); clone3's flags are out of a filter's reach, so
      // it answers ENOSYS and libc falls back to clone (as Docker does).
      { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: EPERM, args: [{ index: 0, value: CLONE_NEWUSER, valueTwo: CLONE_NEWUSER, op: 'SCMP_CMP_MASKED_EQ' }] },
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}
