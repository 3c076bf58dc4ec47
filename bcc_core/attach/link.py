"""Attach points: :class:`Link`, tracepoints, raw tracepoints, perf events, BTF-based
tracing programs.  Each attachment is a :class:`Link` that releases everything it created
(link fd, perf event fd, tracefs probe entry) on close().  kprobes/uprobes are in
:mod:`bcc_core.attach.probe`, attaching by SEC() name in :mod:`bcc_core.attach.auto`."""
import errno
import fcntl
import os
import weakref

from .. import _sys
from .. import btf as _btf
from .._sys import ffi
# the perf_event ABI constants are the syscall layer's; link's own names too
from .._sys import (ATTR_FLAG_DISABLED, BPF_PERF_EVENT, PERF_EVENT_IOC_DISABLE,  # noqa: F401
                    PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, PERF_FLAG_FD_CLOEXEC,
                    PERF_TYPE_HARDWARE, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT)
from ..errors import AttachError, NotSupportedError, syscall_error
from ..load import features

_live = weakref.WeakSet()  # every open Link, for emergency cleanup (not kept alive by it)


class Link:
    """One attachment.  ``fd`` is the bpf_link fd (or -1 for legacy ioctl attachments),
    ``perf_fd`` the perf event fd, ``cleanup`` extra undo actions (tracefs entries)."""

    def __init__(self, kind, target, prog, fd=-1, perf_fd=-1, cleanup=None):
        self.kind, self.target, self.prog = kind, target, prog
        self.fd, self.perf_fd = fd, perf_fd
        self._cleanup = cleanup or []
        _live.add(self)

    def __repr__(self):
        return "<Link %s %s fd=%d>" % (self.kind, self.target, self.fd)

    def close(self):
        if self.perf_fd >= 0:
            try:
                fcntl.ioctl(self.perf_fd, PERF_EVENT_IOC_DISABLE, 0)
            except OSError:
                pass
        _sys.close(self.fd)
        _sys.close(self.perf_fd)
        self.fd = self.perf_fd = -1
        while self._cleanup:
            fn = self._cleanup.pop()
            try:
                fn()
            except OSError:
                pass
        _live.discard(self)

    detach = close

    def __del__(self):          # dropped without close(): release it all the same
        try:
            if self.fd >= 0 or self.perf_fd >= 0 or self._cleanup:
                self.close()
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def close_all():
    for l in list(_live):
        l.close()


def tracepoint_id(category, name):
    tf = features.tracefs(mount=True)
    if tf is None:
        raise AttachError("tracefs is not mounted and cannot be mounted at "
                          "/sys/kernel/tracing")
    path = os.path.join(tf, "events", category, name, "id")
    try:
        with open(path) as f:
            return int(f.read())
    except FileNotFoundError:
        raise AttachError("tracepoint %s:%s does not exist (%s)"
                          % (category, name, path)) from None


def tracepoint_exists(category, name):
    tf = features.tracefs(mount=True)
    return bool(tf) and os.path.exists(os.path.join(tf, "events", category, name))


def perf_event_open_tp(tp_id, pid=-1, cpu=0):
    a = _sys.new_perf_attr()
    a.type = PERF_TYPE_TRACEPOINT
    a.config = tp_id
    a.sample_period = 1
    a.wakeup_events = 1
    return _sys.perf_event_open(a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)


def attach_perf_event_fd(prog, pfd, kind, target, cleanup=None, cookie=0, link=True):
    """Attach prog to an open perf event: bpf_link (BPF_LINK_CREATE) when the kernel has
    it, else the PERF_EVENT_IOC_SET_BPF ioctl.  Takes ownership of pfd.  ``link=False``:
    the ioctl unless a cookie needs the link -- BCC's way, which makes no bpf() call
    once the event is live (a kretprobe on the bpf syscall then counts none of it)."""
    err = errno.EOPNOTSUPP
    if link or cookie:
        a = _sys.new_attr()
        lc = a.link_create
        lc.prog_fd = prog.fd
        lc.target_fd = pfd
        lc.attach_type = BPF_PERF_EVENT
        lc.a = cookie
        fd, err = _sys.bpf_errno(_sys.BPF_LINK_CREATE, a)
        if fd >= 0:
            return Link(kind, target, prog, fd=fd, perf_fd=pfd, cleanup=cleanup)
    if cookie:      # the ioctl has no cookie: the program would read 0
        os.close(pfd)
        for fn in cleanup or ():
            fn()
        raise NotSupportedError(
            "cannot attach program '%s' to %s %s with BPF cookie %d: this kernel has no "
            "perf_event bpf_link (BPF_LINK_CREATE: %s; cookies need Linux 5.15)"
            % (prog.name, kind, target, cookie, os.strerror(err)))
    try:
        fcntl.ioctl(pfd, PERF_EVENT_IOC_SET_BPF, prog.fd)
        fcntl.ioctl(pfd, PERF_EVENT_IOC_ENABLE, 0)
    except OSError as e:
        os.close(pfd)
        for fn in cleanup or ():
            fn()
        raise AttachError("cannot attach program '%s' to %s %s: %s"
                          % (prog.name, kind, target, e.strerror)) from e
    return Link(kind, target, prog, perf_fd=pfd, cleanup=cleanup)


def attach_tracepoint(prog, category, name, link=True):
    tp = tracepoint_id(category, name)
    pfd = perf_event_open_tp(tp, -1, 0)
    return attach_perf_event_fd(prog, pfd, "tracepoint", "%s:%s" % (category, name),
                                link=link)


def attach_raw_tracepoint(prog, name):
    nm = ffi.new("char[]", name.encode())
    a = _sys.new_attr()
    a.raw_tp.name = _sys.ptr(nm)
    a.raw_tp.prog_fd = prog.fd
    fd, err = _sys.bpf_errno(_sys.BPF_RAW_TRACEPOINT_OPEN, a)
    if fd < 0:
        why = os.strerror(err)
        nargs = _raw_tp_nargs(name) if err == errno.EINVAL else None
        if nargs is not None:
            why += (" (the kernel's %s takes %d argument(s), ctx->args[0..%d]: does the "
                    "program read past them?)" % (name, nargs, nargs - 1))
        elif err == errno.ENOENT:
            why += " (no such tracepoint in this kernel)"
        raise AttachError("cannot attach program '%s' to raw tracepoint '%s': %s"
                          % (prog.name, name, why)) from syscall_error(
                              err, "BPF_RAW_TRACEPOINT_OPEN", name)
    return Link("raw_tracepoint", name, prog, fd=fd)


def _raw_tp_nargs(name):
    """How many arguments the kernel's tracepoint passes a raw tracepoint program (its
    btf_trace_NAME typedef: a pointer to a function of (void *data, args...)), or None."""
    try:
        b = _btf.kernel_btf()
        tid = b.find_one("btf_trace_" + name, _btf.KIND_TYPEDEF)
        if tid is None:
            return None
        ptr = b.type(b.skip_mods(b.type(tid).type))
        proto = b.type(b.skip_mods(ptr.type))
        return max(len(proto.params) - 1, 0)
    except Exception:
        return None


def attach_trace(prog):
    """fentry/fexit/tp_btf/fmod_ret/lsm: the target is in the program (attach_btf_id)."""
    a = _sys.new_attr()
    a.raw_tp.name = 0
    a.raw_tp.prog_fd = prog.fd
    fd, err = _sys.bpf_errno(_sys.BPF_RAW_TRACEPOINT_OPEN, a)
    if fd < 0:
        raise AttachError("cannot attach program '%s' (%s): %s"
                          % (prog.name, prog.section, os.strerror(err)))
    return Link("trace", prog.spec.attach_target, prog, fd=fd)

