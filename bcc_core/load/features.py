"""Feature probes for what the running kernel allows, each computed once per process."""
import errno
import os

from .. import _sys
from .._sys import ffi

TRACEFS = "/sys/kernel/tracing"
DEBUGFS_TRACING = "/sys/kernel/debug/tracing"
BPFFS = "/sys/fs/bpf"

# mov r0, 0 ; exit
_RET0 = bytes.fromhex("b700000000000000" "9500000000000000")


def _once(fn):
    """Run a probe once per process and keep its answer (functools.lru_cache, without
    importing functools and the collections it pulls in at every tool's start)."""
    answer = []

    def probe():
        if not answer:
            answer.append(fn())
        return answer[0]
    probe.__name__, probe.__qualname__, probe.__doc__ = fn.__name__, fn.__qualname__, fn.__doc__
    probe.cache_clear = answer.clear
    return probe


def _try_load(prog_type, attach_type=0, attach_btf_id=0):
    insns = ffi.from_buffer(_RET0)
    lic = ffi.new("char[]", b"GPL")
    a = _sys.new_attr()
    p = a.prog_load
    p.prog_type = prog_type
    p.insn_cnt = 2
    p.insns = _sys.ptr(insns)
    p.license = _sys.ptr(lic)
    p.expected_attach_type = attach_type
    p.attach_btf_id = attach_btf_id
    fd, err = _sys.bpf_errno(_sys.BPF_PROG_LOAD, a)
    if fd >= 0:
        os.close(fd)
    return err


@_once
def trampolines():
    """(ok, reason): can fentry/fexit/tp_btf/lsm programs load here?"""
    from .. import btf as _btf
    from ..obj.sec import TRACING, A
    try:
        kb = _btf.kernel_btf()
    except Exception as e:
        return False, "no kernel BTF (%s)" % e
    fid = kb.find_one("bpf_fentry_test1", _btf.KIND_FUNC) or \
        kb.find_one("do_sys_openat2", _btf.KIND_FUNC)
    if fid is None:
        return False, "no function to probe in kernel BTF"
    err = _try_load(TRACING, A["TRACE_FENTRY"], fid)
    if err == 0:
        return True, ""
    if err in (errno.EPERM, errno.ENOTSUPP if hasattr(errno, "ENOTSUPP") else 524, 524,
               errno.EOPNOTSUPP, errno.EINVAL):
        return False, ("BPF trampolines (fentry/fexit/fmod_ret/lsm) are not available on "
                       "this kernel (probe load returned %s)" % errno.errorcode.get(err, err))
    return False, "fentry probe failed: %s" % os.strerror(err)


@_once
def kprobes():
    """(ok, reason): does the kernel have kprobes (CONFIG_KPROBES)?"""
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        return True, ""
    tf = tracefs(mount=True)
    if tf and os.path.exists(os.path.join(tf, "kprobe_events")):
        return True, ""
    return False, ("kprobes are not available on this kernel (CONFIG_KPROBES is off: no "
                   "kprobe PMU and no kprobe_events in tracefs)")


@_once
def uprobes():
    if os.path.exists("/sys/bus/event_source/devices/uprobe"):
        return True, ""
    tf = tracefs(mount=True)
    if tf and os.path.exists(os.path.join(tf, "uprobe_events")):
        return True, ""
    return False, "uprobes are not available on this kernel (CONFIG_UPROBE_EVENTS is off)"


def _mounted(path, fstype):
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                parts = line.split()
                if len(parts) > 2 and parts[1] == path and parts[2] == fstype:
                    return True
    except OSError:
        pass
    return False


_tracefs = []


def tracefs(mount=True):
    """Path of a mounted tracefs, mounting it at /sys/kernel/tracing when missing (root),
    as users of libbpf tools expect.  None if it cannot be had."""
    if _tracefs:
        return _tracefs[0]
    for p in (TRACEFS, DEBUGFS_TRACING):
        if os.path.exists(os.path.join(p, "events")):
            _tracefs.append(p)
            return p
    if mount and os.path.isdir(TRACEFS):
        if _mount("nodev", TRACEFS, "tracefs") and os.path.exists(
                os.path.join(TRACEFS, "events")):
            _tracefs.append(TRACEFS)
            return TRACEFS
    return None


def bpffs(mount=True):
    if _mounted(BPFFS, "bpf"):
        return BPFFS
    if mount and os.path.isdir(BPFFS) and _mount("bpf", BPFFS, "bpf"):
        return BPFFS
    return None


def _mount(src, target, fstype):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.mount(src.encode(), target.encode(), fstype.encode(), 0, None) == 0
