"""kprobes and uprobes: through the perf PMUs (``/sys/bus/event_source/devices/k|uprobe``)
and, where a kernel has no PMU, through tracefs ``kprobe_events``/``uprobe_events`` entries
that are removed again when the link closes."""
import functools
import os

from .. import _sys
from ..load import features
from .._sys import ffi
from ..errors import AttachError, NotSupportedError
from .link import (PERF_FLAG_FD_CLOEXEC, Link, attach_perf_event_fd, perf_event_open_tp,
                   tracepoint_id)

_PMU = "/sys/bus/event_source/devices/%s"


@functools.lru_cache(maxsize=None)
def _pmu_type(kind):
    try:
        with open(_PMU % kind + "/type") as f:
            return int(f.read())
    except OSError:
        return None


@functools.lru_cache(maxsize=None)
def _retprobe_bit(kind):
    try:
        with open(_PMU % kind + "/format/retprobe") as f:
            return int(f.read().strip().split(":")[1])
    except (OSError, IndexError, ValueError):
        return 0


def _open_pmu(kind, name_or_path, offset, retprobe, pid, ref_ctr_off=0):
    t = _pmu_type(kind)
    a = _sys.new_perf_attr()
    a.type = t
    buf = ffi.new("char[]", name_or_path.encode())
    a.config1 = _sys.ptr(buf)
    a.config2 = offset
    if retprobe:
        a.config |= 1 << _retprobe_bit(kind)
    if ref_ctr_off:
        a.config |= ref_ctr_off << 32
    a.sample_period = 1
    a.wakeup_events = 1
    cpu = 0 if pid < 0 else -1
    return _sys.perf_event_open(a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC,
                                what="%s %s" % (kind, name_or_path))


_seq = [0]


def _append(path, line):
    """One write(2) with O_APPEND, as BCC does: Python's open(path, "a") seeks to the
    end first, which 6.1's kprobe_events refuses (EINVAL)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def _tracefs_probe(kind, spec_text, pid):
    """Legacy path: add a probe in tracefs, open its tracepoint, remove it on close."""
    tf = features.tracefs(mount=True)
    events = os.path.join(tf, "%s_events" % kind)
    _seq[0] += 1
    group = "bcc_core_%d" % os.getpid()
    name = "p_%d" % _seq[0]
    _append(events, "%s:%s/%s %s\n" % (spec_text[0], group, name, spec_text[1]))

    def remove():
        _append(events, "-:%s/%s\n" % (group, name))
    try:
        tp = tracepoint_id(group, name)
        pfd = perf_event_open_tp(tp, pid, 0 if pid < 0 else -1)
    except BaseException:
        remove()
        raise
    return pfd, remove


def attach_kprobe(prog, func, offset=0, retprobe=False, syscall=False, maxactive=0,
                  link=True):
    """Attach ``prog`` to kernel function ``func`` (+``offset``).  ``maxactive`` > 0 (a
    kretprobe's number of instances that can be pending at once) needs a tracefs
    ``rN:`` entry, as BCC's: the perf PMU has no field for it.  ``link``: see
    :func:`.link.attach_perf_event_fd`."""
    ok, why = features.kprobes()
    if not ok:
        raise NotSupportedError("cannot attach program '%s' to %s '%s': %s; use a "
                                "tracepoint or raw tracepoint instead (e.g. "
                                "syscalls:sys_enter_* for system calls)"
                                % (prog.name, "kretprobe" if retprobe else "kprobe", func,
                                   why))
    if syscall:
        from .syscall_names import syscall_fnname
        func = syscall_fnname(func)
    kind = "kretprobe" if retprobe else "kprobe"
    if retprobe and maxactive > 0:
        pfd, rm = _tracefs_probe("kprobe", ("r%d" % maxactive, func), -1)
        return attach_perf_event_fd(prog, pfd, kind, func, cleanup=[rm], link=link)
    if _pmu_type("kprobe") is not None:
        pfd = _open_pmu("kprobe", func, offset, retprobe, -1)
        return attach_perf_event_fd(prog, pfd, kind, func, link=link)
    pfd, rm = _tracefs_probe("kprobe", ("r" if retprobe else "p",
                                        "%s+%d" % (func, offset) if offset else func), -1)
    return attach_perf_event_fd(prog, pfd, kind, func, cleanup=[rm], link=link)


def attach_uprobe(prog, path, offset, retprobe=False, pid=-1, ref_ctr_off=0, cookie=0,
                  link=True):
    ok, why = features.uprobes()
    if not ok:
        raise NotSupportedError("cannot attach uprobe for program '%s': %s" % (prog.name, why))
    kind = "uretprobe" if retprobe else "uprobe"
    what = "%s:0x%x" % (path, offset)
    if _pmu_type("uprobe") is not None:
        pfd = _open_pmu("uprobe", path, offset, retprobe, pid, ref_ctr_off)
        return attach_perf_event_fd(prog, pfd, kind, what, cookie=cookie, link=link)
    if ref_ctr_off:
        raise NotSupportedError("a uprobe with a semaphore (USDT) needs the uprobe PMU")
    pfd, rm = _tracefs_probe("uprobe", ("r" if retprobe else "p", "%s:0x%x" % (path, offset)),
                             pid)
    return attach_perf_event_fd(prog, pfd, kind, what, cleanup=[rm], cookie=cookie, link=link)
