"""The kernel's syscall entry symbol names (``__x64_sys_openat``), for ksyscall probes and
the facade's get_syscall_prefix/get_syscall_fnname."""
import re

# BCC's search order: the first prefix under which kallsyms has the bpf syscall wins
PREFIXES = ("sys_", "__x64_sys_", "__x32_compat_sys_", "__ia32_compat_sys_",
            "__arm64_sys_", "__s390x_sys_", "__s390_sys_")
# a kallsyms line naming the bpf syscall under one of PREFIXES (no module suffix)
_BPF_LINE = re.compile(rb" [a-zA-Z] (%s)bpf\n" % b"|".join(
    re.escape(p.encode()) for p in PREFIXES))
_CHUNK = 1 << 18
_prefix = []


def _kallsyms_prefixes(path):
    """The PREFIXES under which ``path`` (kallsyms) has the bpf syscall, read in binary
    chunks up to the first chunk that names one.  A kernel names its syscalls under one
    scheme (plain ``sys_`` or its architecture's wrappers: ``__x64_sys_bpf`` and
    ``__ia32_sys_bpf``, never ``sys_bpf`` beside them), so the rest of the file, four
    fifths of it on x86-64 and seconds of reading under emulation, is not read."""
    found = set()
    with open(path, "rb") as f:
        tail = b""
        while not found:
            chunk = f.read(_CHUNK)
            if not chunk:
                found.update(_names(tail + b"\n"))
                break
            cut = chunk.rfind(b"\n") + 1
            if not cut:
                tail += chunk
                continue
            found.update(_names(tail + chunk[:cut]))
            tail = chunk[cut:]
    return found


def _names(lines):
    return (m.group(1).decode() for m in _BPF_LINE.finditer(lines))


def syscall_prefix(path="/proc/kallsyms"):
    if not _prefix:
        try:
            found = _kallsyms_prefixes(path)
        except OSError:
            found = set()
        _prefix.append(next((p for p in PREFIXES if p in found), PREFIXES[0]))
    return _prefix[0]


def syscall_fnname(name):
    if name.startswith(PREFIXES):
        return name
    return syscall_prefix() + name
