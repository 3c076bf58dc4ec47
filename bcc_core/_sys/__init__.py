"""Layer 1, the kernel interface: bpf(), perf_event_open() and friends, the attr
layouts, the ABI constants, errno -> typed exceptions.  Nothing else in bcc-core issues
system calls for BPF objects.  Uses the out-of-line ABI-mode cffi module ``_ffi`` (no
compiler at install time, no pycparser at import time; regenerate it with
``python -m bcc_core._sys.ffibuild``)."""
import os

from ..errors import syscall_error
from ._ffi import ffi

lib = ffi.dlopen(None)

NR_BPF = 321            # x86_64
NR_PERF_EVENT_OPEN = 298

# perf_event ABI (include/uapi/linux/perf_event.h)
PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT = 0, 1, 2
PERF_FLAG_FD_CLOEXEC = 8
PERF_EVENT_IOC_ENABLE = 0x2400
PERF_EVENT_IOC_DISABLE = 0x2401
PERF_EVENT_IOC_SET_BPF = 0x40042408
ATTR_FLAG_DISABLED = 1
BPF_PERF_EVENT = 41       # enum bpf_attach_type

CMD_NAMES = [
    "BPF_MAP_CREATE", "BPF_MAP_LOOKUP_ELEM", "BPF_MAP_UPDATE_ELEM", "BPF_MAP_DELETE_ELEM",
    "BPF_MAP_GET_NEXT_KEY", "BPF_PROG_LOAD", "BPF_OBJ_PIN", "BPF_OBJ_GET", "BPF_PROG_ATTACH",
    "BPF_PROG_DETACH", "BPF_PROG_TEST_RUN", "BPF_PROG_GET_NEXT_ID", "BPF_MAP_GET_NEXT_ID",
    "BPF_PROG_GET_FD_BY_ID", "BPF_MAP_GET_FD_BY_ID", "BPF_OBJ_GET_INFO_BY_FD",
    "BPF_PROG_QUERY", "BPF_RAW_TRACEPOINT_OPEN", "BPF_BTF_LOAD", "BPF_BTF_GET_FD_BY_ID",
    "BPF_TASK_FD_QUERY", "BPF_MAP_LOOKUP_AND_DELETE_ELEM", "BPF_MAP_FREEZE",
    "BPF_BTF_GET_NEXT_ID", "BPF_MAP_LOOKUP_BATCH", "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
    "BPF_MAP_UPDATE_BATCH", "BPF_MAP_DELETE_BATCH", "BPF_LINK_CREATE", "BPF_LINK_UPDATE",
    "BPF_LINK_GET_FD_BY_ID", "BPF_LINK_GET_NEXT_ID", "BPF_ENABLE_STATS", "BPF_ITER_CREATE",
    "BPF_LINK_DETACH", "BPF_PROG_BIND_MAP",
]
globals().update({n: i for i, n in enumerate(CMD_NAMES)})

ATTR_SIZE = ffi.sizeof("union bpf_attr")
_c_int = ffi.cast


def new_attr():
    return ffi.new("union bpf_attr *")


def bpf(cmd, attr, what="", size=ATTR_SIZE):
    """Issue bpf(cmd, attr).  Returns the result; raises SyscallError naming the command
    and ``what`` (the map/program/object concerned) on failure."""
    ret = lib.syscall(NR_BPF, _c_int("int", cmd), attr, _c_int("unsigned int", size))
    if ret < 0:
        raise syscall_error(ffi.errno, CMD_NAMES[cmd], what)
    return ret


def bpf_errno(cmd, attr, size=ATTR_SIZE):
    """bpf() returning (ret, errno) without raising: for probes and retries."""
    ret = lib.syscall(NR_BPF, _c_int("int", cmd), attr, _c_int("unsigned int", size))
    return ret, (ffi.errno if ret < 0 else 0)


def perf_event_open(attr, pid=-1, cpu=0, group_fd=-1, flags=0, what=""):
    ret = lib.syscall(NR_PERF_EVENT_OPEN, attr, _c_int("int", pid), _c_int("int", cpu),
                      _c_int("int", group_fd), _c_int("unsigned long", flags))
    if ret < 0:
        raise syscall_error(ffi.errno, "perf_event_open", what)
    return ret


def new_perf_attr():
    a = ffi.new("struct perf_event_attr *")
    a.size = ffi.sizeof("struct perf_event_attr")
    return a


def ptr(buf):
    """Address of a cffi buffer / bytes-like object as u64 for bpf_attr fields."""
    return int(ffi.cast("uintptr_t", buf))


def buffer_address(buf):
    """(address, handle) of a buffer object, read-only ones included (an mmap): the
    handle pins the buffer; give it to release_buffer() before closing the buffer."""
    h = ffi.from_buffer(buf)
    return int(ffi.cast("uintptr_t", h)), h


def release_buffer(handle):
    if handle is not None:
        ffi.release(handle)


def close(fd):
    if fd is not None and fd >= 0:
        try:
            os.close(fd)
        except OSError:
            pass
