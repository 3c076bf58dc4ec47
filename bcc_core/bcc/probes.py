"""BPF's other attach calls (a mixin of :class:`bcc_core.bpf.BPF`): tracepoints, raw
tracepoints, BPF trampolines (kfunc/kretfunc, fmod_ret, LSM), perf events, and the static
attach_func/attach_raw_socket/attach_xdp of programs given as BPF.Function."""
import os

from ..attach import link as _link
from ..errors import AttachError, NotSupportedError
from ..load import features as _features
from ..utils import _assert_is_bytes, _str, get_online_cpus
from .attachments import Attachments
from .constants import BPFProgType
from .lazy_ctypes import ct
from .loading import Function
from .symbols import Symbols


class Attach(object):
    """BPF's tracepoint, trampoline, perf event and program-attach methods."""

    @staticmethod
    def _need_function(fn):
        if not isinstance(fn, Function):
            raise Exception("arg 1 must be of type BPF.Function")

    @staticmethod
    def _prog_attach_cmd(cmd, fields, verb, attach_type):
        """BPF_PROG_ATTACH/DETACH with attr = (target fd, prog fd, type[, flags])."""
        from .. import _sys
        a = _sys.new_attr()
        words = _sys.ffi.cast("uint32_t *", a)
        for i, v in enumerate(fields):
            words[i] = v
        ret, err = _sys.bpf_errno(cmd, a)
        if ret < 0:
            raise Exception("Failed to %s BPF function with attach_type %s: %s"
                            % (verb, attach_type, os.strerror(err)))

    @staticmethod
    def attach_func(fn, attachable_fd, attach_type, flags=0):
        """Attach program ``fn`` to ``attachable_fd`` (a cgroup, sockmap...) with
        BPF_PROG_ATTACH."""
        from .. import _sys
        Attach._need_function(fn)
        Attach._prog_attach_cmd(_sys.BPF_PROG_ATTACH,
                             (attachable_fd, fn.fd, attach_type, flags), "attach",
                             attach_type)

    @staticmethod
    def detach_func(fn, attachable_fd, attach_type):
        """Undo attach_func (BPF_PROG_DETACH)."""
        from .. import _sys
        Attach._need_function(fn)
        Attach._prog_attach_cmd(_sys.BPF_PROG_DETACH, (attachable_fd, fn.fd, attach_type),
                             "detach", attach_type)

    @staticmethod
    def attach_raw_socket(fn, dev):
        """Open a raw packet socket on interface ``dev`` with socket filter ``fn``
        attached; its fd is left in ``fn.sock``."""
        import socket
        Attach._need_function(fn)
        dev = _str(dev)
        try:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                                 | socket.SOCK_CLOEXEC, socket.htons(3))   # ETH_P_ALL
            sock.bind((dev, 0))
        except OSError as e:
            raise Exception("Failed to open raw device %s: %s" % (dev, e.strerror))
        try:
            sock.setsockopt(socket.SOL_SOCKET, 50, fn.fd)   # SO_ATTACH_BPF
        except OSError as e:
            sock.close()
            raise Exception("Failed to attach BPF to device %s: %s" % (dev, e.strerror))
        fn.sock = sock.detach()

    @staticmethod
    def attach_xdp(dev, fn, flags=0):
        """Attach ``fn`` (``b.load_func(name, BPF.XDP)``) to network device ``dev``
        (name or index) with XDP_FLAGS_* ``flags`` (BPF.XDP_FLAGS_SKB_MODE...).  A BPF
        link where the kernel has XDP links: it stays until remove_xdp() or the
        process's exit; netlink otherwise (stays until remove_xdp())."""
        from ..attach import xdp
        if not isinstance(fn, Function):
            raise TypeError("attach_xdp(dev, fn): fn is b.load_func(name, BPF.XDP)")
        xdp.attach(_str(dev) if isinstance(dev, bytes) else dev, fn.fd, flags,
                   _str(fn.name))

    @staticmethod
    def remove_xdp(dev, flags=0):
        """Remove the XDP program from ``dev`` (BCC's remove_xdp)."""
        from ..attach import xdp
        xdp.detach(_str(dev) if isinstance(dev, bytes) else dev, flags)


    def attach_tracepoint(self, tp=b"", tp_re=b"", fn_name=b""):
        """attach_tracepoint(tp="", tp_re="", fn_name="")

        Attach program ``fn_name`` to the tracepoint ``tp`` ("category:event", e.g.
        "sched:sched_switch"), or to each tracepoint whose name matches ``tp_re``.
        """
        tp = _assert_is_bytes(tp)
        tp_re = _assert_is_bytes(tp_re)
        fn_name = _assert_is_bytes(fn_name)
        if tp_re:
            for name in self.get_tracepoints(tp_re):
                self.attach_tracepoint(tp=name, fn_name=fn_name)
            return None
        prog = self._prog(fn_name, BPFProgType.TRACEPOINT)
        category, _, event = tp.partition(b":")
        lk = _link.attach_tracepoint(prog, _str(category), _str(event), link=False)
        self.load_func(fn_name)
        self.tracepoint_fds[tp] = lk
        return self

    def attach_raw_tracepoint(self, tp=b"", fn_name=b""):
        """attach_raw_tracepoint(tp="", fn_name="")

        Attach program ``fn_name`` to raw tracepoint ``tp`` (an event name without its
        category, e.g. "sched_switch"); a tracepoint takes one raw program at most.
        """
        tp = _assert_is_bytes(tp)
        fn_name = _assert_is_bytes(fn_name)
        if tp in self.raw_tracepoint_fds:
            raise Exception("Raw tracepoint %s has been attached" % tp)
        lk = _link.attach_raw_tracepoint(self._prog(fn_name, BPFProgType.RAW_TRACEPOINT), _str(tp))
        self.load_func(fn_name)
        self.raw_tracepoint_fds[tp] = lk
        return self

    def detach_raw_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        self.attachments.close_one(self.raw_tracepoint_fds, tp, "Raw tracepoint")


    def _attach_btf_prog(self, prefix, fn_name, table, kind):
        fn_name = _assert_is_bytes(fn_name)
        fn_name = Symbols.add_prefix(prefix, fn_name)
        if fn_name in table:
            raise Exception("%s %s has been attached" % (kind, fn_name))
        prog = self._obj.programs.get(_str(fn_name))
        if prog is None:
            raise Exception("Unknown program %s" % _str(fn_name))
        ok, why = _features.trampolines()
        if not ok or prog.fd < 0:
            if prog.fd < 0 and _str(fn_name) in self._deferred:
                why = str(self._deferred[_str(fn_name)])
            hint = "" if "instead" in why else (
                "; use a tracepoint (attach_tracepoint) or raw tracepoint "
                "(attach_raw_tracepoint) instead")
            raise NotSupportedError("cannot attach %s (%s): %s%s"
                                    % (_str(fn_name), kind, why, hint))
        lk = _link.attach_trace(prog)
        self.load_func(fn_name)
        table[fn_name] = lk
        return self

    @staticmethod
    def _detach_btf_prog(prefix, fn_name, links, label):
        fn_name = Symbols.add_prefix(prefix, _assert_is_bytes(fn_name))
        Attachments.close_one(links, fn_name, label)

    def detach_kfunc(self, fn_name=b""):
        self._detach_btf_prog(b"kfunc__", fn_name, self.kfunc_entry_fds, "Kernel entry func")

    def detach_kretfunc(self, fn_name=b""):
        self._detach_btf_prog(b"kretfunc__", fn_name, self.kfunc_exit_fds, "Kernel exit func")

    def attach_kfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kfunc__", fn_name, self.kfunc_entry_fds,
                                     "kernel entry func")

    def attach_kretfunc(self, fn_name=b""):
        return self._attach_btf_prog(b"kretfunc__", fn_name, self.kfunc_exit_fds,
                                     "kernel exit func")


    def attach_fmod_ret(self, fn_name=b""):
        return self._attach_btf_prog(b"kmod_ret__", fn_name, self.fmod_ret_fds,
                                     "fmod_ret func")

    def detach_fmod_ret(self, fn_name=b""):
        self._detach_btf_prog(b"kmod_ret__", fn_name, self.fmod_ret_fds, "Fmod_ret func")

    def detach_lsm(self, fn_name=b""):
        self._detach_btf_prog(b"lsm__", fn_name, self.lsm_fds, "LSM")

    def attach_lsm(self, fn_name=b""):
        return self._attach_btf_prog(b"lsm__", fn_name, self.lsm_fds, "LSM")


    def detach_tracepoint(self, tp=b""):
        tp = _assert_is_bytes(tp)
        self.attachments.close_one(self.tracepoint_fds, tp, "Tracepoint")

    def _attach_perf_event(self, prog, ev_type, ev_config, sample_period, sample_freq,
                           pid, cpu, group_fd):
        from .. import _sys
        from .._sys import PERF_FLAG_FD_CLOEXEC
        a = _sys.new_perf_attr()
        a.type = ev_type
        a.config = ev_config
        if sample_freq:
            a.sample_period = sample_freq
            a.flags |= 1 << 10          # freq
        else:
            a.sample_period = sample_period
        try:
            pfd = _sys.perf_event_open(a, pid, cpu, group_fd, PERF_FLAG_FD_CLOEXEC,
                                       what="perf event type %d config %d cpu %d"
                                       % (ev_type, ev_config, cpu))
            return _link.attach_perf_event_fd(prog, pfd, "perf_event",
                                              "%d/%d cpu %d" % (ev_type, ev_config, cpu))
        except (OSError, AttachError) as e:
            raise Exception("Failed to attach BPF to perf event: %s" % e) from e

    def attach_perf_event(self, ev_type=-1, ev_config=-1, fn_name=b"",
                          sample_period=0, sample_freq=0, pid=-1, cpu=-1, group_fd=-1):
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name, BPFProgType.PERF_EVENT)
        self.load_func(fn_name, BPFProgType.PERF_EVENT)
        links = {}
        try:
            for c in ([cpu] if cpu >= 0 else get_online_cpus()):
                links[c] = self._attach_perf_event(prog, ev_type, ev_config, sample_period,
                                                   sample_freq, pid, c, group_fd)
        except BaseException:
            for lk in links.values():     # all CPUs or none
                lk.close()
            raise
        self.open_perf_events[(ev_type, ev_config)] = links

    def attach_perf_event_raw(self, attr=-1, fn_name=b"", pid=-1, cpu=-1, group_fd=-1):
        from .. import _sys
        from .._sys import PERF_FLAG_FD_CLOEXEC
        fn_name = _assert_is_bytes(fn_name)
        prog = self._prog(fn_name, BPFProgType.PERF_EVENT)
        self.load_func(fn_name, BPFProgType.PERF_EVENT)
        raw = ct.string_at(ct.addressof(attr), ct.sizeof(attr))
        res = {}

        def one(c):
            a = _sys.new_perf_attr()
            n = min(len(raw), _sys.ffi.sizeof("struct perf_event_attr"))
            _sys.ffi.memmove(a, raw[:n], n)
            a.size = n
            try:
                pfd = _sys.perf_event_open(a, pid, c, group_fd, PERF_FLAG_FD_CLOEXEC)
                return _link.attach_perf_event_fd(prog, pfd, "perf_event", "raw cpu %d" % c)
            except (OSError, AttachError) as e:
                raise Exception("Failed to attach BPF to perf raw event: %s" % e) from e
        try:
            for c in ([cpu] if cpu >= 0 else get_online_cpus()):
                res[c] = one(c)
        except BaseException:
            for lk in res.values():
                lk.close()
            raise
        self.open_perf_events[(attr.type, attr.config)] = res

    def detach_perf_event(self, ev_type=-1, ev_config=-1):
        self.attachments.close_perf_event(ev_type, ev_config)
