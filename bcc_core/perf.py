"""``Perf``: BCC's small perf_event_open() helper class (``from bcc import Perf``).

``Perf.perf_event_attr`` is a ctypes image of the kernel's ``struct perf_event_attr`` (as
of PERF_ATTR_SIZE_VER6, 120 bytes), the type BCC tools fill in and hand to
``BPF.attach_perf_event_raw``.  ``Perf.perf_event_open(tpoint_id, ...)`` opens and enables
one event per online CPU and keeps the descriptors open for the life of the process, the
way BCC uses it to switch a tracepoint on without reading its samples.  The system call
itself goes through :mod:`bcc_core._sys`.
"""
import ctypes as ct
import fcntl
import os

from .utils import get_online_cpus

_u16, _u32, _s32, _u64 = ct.c_uint16, ct.c_uint32, ct.c_int32, ct.c_uint64


def _union(name, ctype, members):
    """A ctypes union whose members all alias one ``ctype`` value."""
    return type(name, (ct.Union,), {"_fields_": [(m, ctype) for m in members]})


# The 64 flag bits that follow read_format, low bit first, with their widths
# (include/uapi/linux/perf_event.h; the newer flags live in what is reserved here).  The
# kernel declares them in one __u64; they are packed here in two 32-bit units, as BCC
# does, which on little-endian x86_64 puts every bit in the same place and keeps the
# ctypes field descriptors (offset/size) the same as BCC's.
_FLAG_BITS = (
    ("disabled", 1), ("inherit", 1), ("pinned", 1), ("exclusive", 1),
    ("exclude_user", 1), ("exclude_kernel", 1), ("exclude_hv", 1), ("exclude_idle", 1),
    ("mmap", 1), ("comm", 1), ("freq", 1), ("inherit_stat", 1), ("enable_on_exec", 1),
    ("task", 1), ("watermark", 1), ("precise_ip", 2), ("mmap_data", 1),
    ("sample_id_all", 1), ("exclude_host", 1), ("exclude_guest", 1),
    ("exclude_callchain_kernel", 1), ("exclude_callchain_user", 1), ("mmap2", 1),
    ("comm_exec", 1), ("use_clockid", 1), ("context_switch", 1), ("write_backward", 1),
    ("namespaces", 1), ("ksymbol", 1), ("bpf_event", 1), ("aux_output", 1),
    ("cgroup", 1), ("text_poke", 1), ("__reserved_1", 30),
)
assert sum(width for _, width in _FLAG_BITS) == 64

# Unions in the structure: (member name in _fields_, ctype, the names it answers to).
_UNIONS = {
    "period": ("_period_u", _u64, ("sample_period", "sample_freq")),
    "wakeup": ("_wakeup_u", _u32, ("wakeup_events", "wakeup_watermark")),
    "addr": ("_addr_u", _u64, ("bp_addr", "kprobe_func", "uprobe_path", "config1")),
    "len": ("_len_u", _u64, ("bp_len", "kprobe_addr", "probe_offset", "config2")),
}


def _attr_fields():
    u = {k: (member, _union("_perf_attr" + member, ctype, names))
         for k, (member, ctype, names) in _UNIONS.items()}
    return ([("type", _u32), ("size", _u32), ("config", _u64), u["period"],
             ("sample_type", _u64), ("read_format", _u64)]
            + [(name, _u32, width) for name, width in _FLAG_BITS]
            + [u["wakeup"], ("bp_type", _u32), u["addr"], u["len"],
               ("branch_sample_type", _u64), ("sample_regs_user", _u64),
               ("sample_stack_user", _u32), ("clockid", _s32), ("sample_regs_intr", _u64),
               ("aux_watermark", _u32), ("sample_max_stack", _u16), ("__reserved_2", _u16),
               ("aux_sample_size", _u32), ("__reserved_3", _u32)])


class Perf(object):
    class perf_event_attr(ct.Structure):
        _anonymous_ = tuple(member for member, _, _ in _UNIONS.values())
        _fields_ = _attr_fields()

        # every name the kernel will see: the fields plus the names inside the unions
        ctype_fields = tuple([f[0] for f in _fields_]
                             + [n for _, _, names in _UNIONS.values() for n in names])

        def __init__(self):
            super().__init__()
            self.size = ct.sizeof(self)     # 120, PERF_ATTR_SIZE_VER6

        def __setattr__(self, key, value):
            # Python would silently keep a misspelt field as a plain attribute; say so, as
            # BCC does, since such a value never reaches the kernel.
            if key not in self.ctype_fields:
                print("Warning: perf_event_attr has no field %r: the value stays on the "
                      "Python object and is not passed to perf_event_open" % (key,))
            super().__setattr__(key, value)

    assert ct.sizeof(perf_event_attr) == 120

    NR_PERF_EVENT_OPEN = 298            # x86_64

    # enum perf_type_id
    PERF_TYPE_HARDWARE = 0
    PERF_TYPE_SOFTWARE = 1
    PERF_TYPE_TRACEPOINT = 2
    PERF_TYPE_HW_CACHE = 3

    PERF_SAMPLE_RAW = 1 << 10           # enum perf_event_sample_format
    PERF_FLAG_FD_CLOEXEC = 1 << 3       # perf_event_open() flags

    # ioctls: _IOW('$', 6, char *) and _IO('$', 0)
    PERF_EVENT_IOC_SET_FILTER = (1 << 30) | (8 << 16) | (ord("$") << 8) | 6
    PERF_EVENT_IOC_ENABLE = (ord("$") << 8) | 0

    # raw libc entry points, for callers that used BCC's
    libc = ct.CDLL(None, use_errno=True)
    syscall = libc.syscall
    ioctl = libc.ioctl

    # A tracepoint filter no task matches (pids are never negative): the event counts
    # as enabled in the kernel but records nothing.
    _MATCH_NOTHING = b"common_pid == -17"

    @staticmethod
    def _open_for_cpu(cpu, attr, pid=-1):
        """Open and enable the event ``attr`` (a cffi ``struct perf_event_attr *``) on one
        CPU; the descriptor is deliberately left open.  Returns it."""
        from . import _sys
        fd = _sys.perf_event_open(attr, pid, cpu, -1, Perf.PERF_FLAG_FD_CLOEXEC,
                                  what="type %d config %d cpu %d"
                                  % (attr.type, attr.config, cpu))
        try:
            if attr.type == Perf.PERF_TYPE_TRACEPOINT:
                fcntl.ioctl(fd, Perf.PERF_EVENT_IOC_SET_FILTER, Perf._MATCH_NOTHING + b"\0")
            fcntl.ioctl(fd, Perf.PERF_EVENT_IOC_ENABLE, 0)
        except OSError:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def perf_event_open(tpoint_id, pid=-1, ptype=PERF_TYPE_TRACEPOINT, freq=0):
        """Open event ``config=tpoint_id`` of type ``ptype`` (a tracepoint id by default)
        for ``pid`` on every online CPU and enable it.  With ``freq`` > 0 the event samples
        at that frequency, otherwise on every occurrence.  Raises OSError on failure."""
        from . import _sys
        attr = _sys.new_perf_attr()
        attr.type = ptype
        attr.config = tpoint_id
        attr.sample_type = Perf.PERF_SAMPLE_RAW
        if freq > 0:
            attr.flags |= 1 << 10           # the "freq" bit
            attr.sample_period = freq       # i.e. sample_freq
        else:
            attr.sample_period = 1
        attr.wakeup_events = 9999999        # never wake a reader: nobody reads
        for cpu in get_online_cpus():
            Perf._open_for_cpu(cpu, attr, pid)
