"""The kernel's syscall entry symbol names (``__x64_sys_openat``), for ksyscall probes and
the facade's get_syscall_prefix/get_syscall_fnname."""

# BCC's search order: the first prefix under which kallsyms has the bpf syscall wins
PREFIXES = ("sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_",
            "__arm64_sys_", "__s390x_sys_", "__s390_sys_")
_prefix = []


def syscall_prefix():
    if not _prefix:
        wanted = {p + "bpf": p for p in PREFIXES}
        found = set()
        try:
            with open("/proc/kallsyms") as f:
                for line in f:
                    parts = line.split(None, 3)
                    if len(parts) > 2 and parts[2] in wanted:
                        found.add(wanted[parts[2]])
        except OSError:
            pass
        _prefix.append(next((p for p in PREFIXES if p in found), PREFIXES[0]))
    return _prefix[0]


def syscall_fnname(name):
    if name.startswith(PREFIXES):
        return name
    return syscall_prefix() + name
