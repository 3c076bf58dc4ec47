"""The kernel's syscall entry symbol names (``__x64_sys_openat``), for ksyscall probes."""
import os

_prefix = []


def syscall_prefix():
    if not _prefix:
        p = "sys_"
        try:
            with open("/proc/kallsyms") as f:
                for line in f:
                    name = line.split()[2] if len(line.split()) > 2 else ""
                    if name == "__x64_sys_bpf" or name.startswith("__x64_sys_"):
                        p = "__x64_sys_"
                        break
                    if name.startswith("__arm64_sys_"):
                        p = "__arm64_sys_"
                        break
        except OSError:
            pass
        _prefix.append(p)
    return _prefix[0]


def syscall_fnname(name):
    if name.startswith(("__x64_sys_", "__arm64_sys_", "sys_")):
        return name
    return syscall_prefix() + name
