"""BPF's kprobes and uprobes (a mixin of :class:`bcc_core.bpf.BPF`): attach_kprobe,
attach_kretprobe, attach_uprobe, attach_uretprobe (one function, or every one matching a
regular expression), USDT locations, and their detach_*; the links are kept in
``b.attachments`` under BCC's keys (p_<event>, r_<event>, p_<path>_0x<addr>[_<pid>])."""
from ..errors import AttachError, NotSupportedError
from ..load import features as _features
from ..utils import _assert_is_bytes, _str
from .attachments import count_probes, num_open_probes, probe_limit
from .constants import BPFProgType


class Kprobes(object):
    """BPF's kprobe/uprobe methods."""

    def _check_probe_quota(self, num_new_probes):
        if num_open_probes() + num_new_probes > probe_limit():
            raise Exception("Number of open probes would exceed global quota")

    @staticmethod
    def get_probe_limit():
        """How many kprobes + uprobes may be open at once: $BCC_PROBE_LIMIT, else 1000."""
        return probe_limit()

    @staticmethod
    def _count_probes(delta):
        count_probes(delta)

    # BCC's private bookkeeping calls, kept for scripts that reach into them
    def _add_kprobe_fd(self, ev_name, fn_name, fd):
        self.attachments.add_kprobe(ev_name, fn_name, fd)

    def _del_kprobe_fd(self, ev_name, fn_name):
        self.kprobe_fds[ev_name].pop(fn_name)
        count_probes(-1)

    def _add_uprobe_fd(self, name, fd):
        self.attachments.add_uprobe(name, fd)

    def _del_uprobe_fd(self, name):
        self.uprobe_fds.pop(name)
        count_probes(-1)

    @staticmethod
    def _no_kprobes(kind, fn_name, event):
        ok, why = _features.kprobes()
        if ok:
            return None
        return NotSupportedError(
            "cannot attach %s to %s '%s': %s; use a tracepoint (attach_tracepoint, e.g. "
            "syscalls:sys_enter_* for system calls) or a raw tracepoint instead"
            % (_str(fn_name), kind, _str(event), why))

    @staticmethod
    def _kprobe_event_name(kind, event):
        """BCC's key for a kprobe (kind b"p") or kretprobe (b"r") on ``event``."""
        import re
        return kind + b"_" + re.sub(rb"[+.]", b"_", event)

    @staticmethod
    def _not_traceable(kind, fn_name, what, cause=None):
        text = ("Failed to attach BPF program %s to %s %s, it's not traceable (either "
                "non-existing, inlined, or marked as \"notrace\")" % (fn_name, kind, what))
        if cause is not None:
            text += ": %s" % cause
        return Exception(text)

    def _attach_kprobe_kind(self, retprobe, event, event_off, fn_name, event_re,
                            maxactive):
        kind = "kretprobe" if retprobe else "kprobe"
        event = _assert_is_bytes(event)
        fn_name = _assert_is_bytes(fn_name)
        event_re = _assert_is_bytes(event_re)
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        err = self._no_kprobes(kind, fn_name, event or event_re)
        if err:
            raise err
        if event_re:
            # one probe on every matching kernel function; fail only if none attached
            funcs = self.get_kprobe_functions(event_re)
            if not retprobe:
                self._check_probe_quota(len(funcs))
            failed = []
            for func in funcs:
                try:
                    if retprobe:
                        self.attach_kretprobe(event=func, fn_name=fn_name,
                                              maxactive=maxactive)
                    else:
                        self.attach_kprobe(event=func, fn_name=fn_name)
                except Exception:
                    failed.append(func)
            if len(failed) == len(funcs):
                raise self._not_traceable(kind, fn_name, b"/".join(failed))
            return None
        ev_name = self._kprobe_event_name(b"r" if retprobe else b"p", event)
        if fn_name in self.kprobe_fds.get(ev_name, ()):
            return self         # already attached there: once is what the user meant
        self._check_probe_quota(1)
        fn = self.load_func(fn_name, BPFProgType.KPROBE)
        try:
            from ..attach import probe as _probe
            lk = _probe.attach_kprobe(prog, _str(event), event_off, retprobe=retprobe,
                                      maxactive=maxactive, link=False)
        except (AttachError, OSError) as e:
            raise self._not_traceable(kind, fn_name, event, e) from e
        self.attachments.add_kprobe(ev_name, fn.name, lk)
        return self

    def attach_kprobe(self, event=b"", event_off=0, fn_name=b"", event_re=b""):
        """Run program ``fn_name`` when kernel function ``event`` (at ``event_off``) is
        entered, or every function matching the regular expression ``event_re``."""
        return self._attach_kprobe_kind(False, event, event_off, fn_name, event_re, 0)

    def attach_kretprobe(self, event=b"", fn_name=b"", event_re=b"", maxactive=0):
        """Run program ``fn_name`` when kernel function ``event`` (or any function
        matching ``event_re``) returns."""
        return self._attach_kprobe_kind(True, event, 0, fn_name, event_re, maxactive)

    def detach_kprobe_event(self, ev_name):
        ev_name = _assert_is_bytes(ev_name)
        for fn_name in list(self.kprobe_fds[ev_name]):
            self.detach_kprobe_event_by_fn(ev_name, fn_name)

    def detach_kprobe_event_by_fn(self, ev_name, fn_name):
        ev_name = _assert_is_bytes(ev_name)
        fn_name = _assert_is_bytes(fn_name)
        self.attachments.close_kprobe(ev_name, fn_name)

    def _detach_kprobe_kind(self, kind, event, fn_name):
        ev_name = self._kprobe_event_name(kind, _assert_is_bytes(event))
        if fn_name:
            self.detach_kprobe_event_by_fn(ev_name, _assert_is_bytes(fn_name))
        else:
            self.detach_kprobe_event(ev_name)

    def detach_kprobe(self, event, fn_name=None):
        self._detach_kprobe_kind(b"p", event, fn_name)

    def detach_kretprobe(self, event, fn_name=None):
        self._detach_kprobe_kind(b"r", event, fn_name)


    def _get_uprobe_evname(self, prefix, path, addr, pid):
        # BCC's key of a uprobe; per-process probes get the pid too, so probes of the
        # same address in different processes are told apart
        import re
        parts = [prefix, re.sub(b"[^a-zA-Z0-9_]", b"_", path), b"0x%x" % addr]
        if pid != -1:
            parts.append(b"%d" % pid)
        return b"_".join(parts)

    def _attach_uprobe_kind(self, retprobe, name, sym, sym_re, addr, fn_name, pid,
                            sym_off):
        name = _assert_is_bytes(name)
        sym = _assert_is_bytes(sym)
        sym_re = _assert_is_bytes(sym_re)
        fn_name = _assert_is_bytes(fn_name)
        if sym_re:
            addrs = self.get_user_addresses(name, sym_re)
            if not retprobe:
                self._check_probe_quota(len(addrs))
            for a in addrs:
                if retprobe:
                    self.attach_uretprobe(name=name, addr=a, fn_name=fn_name, pid=pid)
                else:
                    self.attach_uprobe(name=name, addr=a, fn_name=fn_name, pid=pid)
            return None
        path, addr = self._check_path_symbol(name, sym, addr, pid, sym_off)
        self._check_probe_quota(1)
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        self.load_func(fn_name, BPFProgType.KPROBE)
        key = self._get_uprobe_evname(b"r" if retprobe else b"p", path, addr, pid)
        try:
            from ..attach import probe as _probe
            lk = _probe.attach_uprobe(prog, _str(path), addr, retprobe=retprobe, pid=pid,
                                      link=False)
        except (AttachError, OSError) as e:
            raise Exception("Failed to attach BPF to %s: %s"
                            % ("uretprobe" if retprobe else "uprobe", e)) from e
        self.attachments.add_uprobe(key, lk)
        return self

    def _attach_usdt(self, path, offset, ref_ctr_offset, fn_name, pid, cookie=0):
        """A USDT probe location: a uprobe at the file offset, its semaphore counted by
        the kernel (ref_ctr_offset), the cookie telling the argument readers the site.
        A location already attached to this function (and pid) is left as it is."""
        from ..attach import probe as _probe
        prog = self._prog(fn_name, BPFProgType.KPROBE)
        key = self._get_uprobe_evname(b"p", path, offset, pid)
        held = self.uprobe_fds.get(key)
        if held is not None:            # another function at this site: its own key
            if getattr(held, "prog", None) is prog:
                return
            key += b"_" + _assert_is_bytes(fn_name)
            if key in self.uprobe_fds:
                return
        lk = _probe.attach_uprobe(prog, _str(path), offset, pid=pid,
                                  ref_ctr_off=ref_ctr_offset, cookie=cookie, link=False)
        self.attachments.add_uprobe(key, lk)

    def attach_uprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                      fn_name=b"", pid=-1, sym_off=0):
        """attach_uprobe(name="", sym="", sym_re="", addr=None, fn_name="", pid=-1,
        sym_off=0)

        Attach program ``fn_name`` to the entry of function ``sym`` (plus ``sym_off``
        bytes) of ``name``: a binary or library given by path, or a library by short
        name ("c", "pthread").  Instead of ``sym``: ``addr``, a virtual address in
        ``name``, or ``sym_re``, a regular expression for several functions.  With
        ``pid`` other than -1 only that process is traced.
        """
        assert sym_off >= 0
        if addr is not None:
            assert sym_off == 0, "offset with addr is not supported"
        return self._attach_uprobe_kind(False, name, sym, sym_re, addr, fn_name, pid,
                                        sym_off)

    def attach_uretprobe(self, name=b"", sym=b"", sym_re=b"", addr=None,
                         fn_name=b"", pid=-1):
        """attach_uretprobe(name="", sym="", sym_re="", addr=None, fn_name="", pid=-1)

        Like attach_uprobe, but ``fn_name`` runs when the function returns.
        """
        return self._attach_uprobe_kind(True, name, sym, sym_re, addr, fn_name, pid, 0)

    def detach_uprobe_event(self, ev_name):
        self.attachments.close_uprobe(ev_name)

    def _detach_uprobe_kind(self, kind, name, sym, addr, pid, sym_off):
        path, addr = self._check_path_symbol(_assert_is_bytes(name), _assert_is_bytes(sym),
                                            addr, pid, sym_off)
        self.detach_uprobe_event(self._get_uprobe_evname(kind, path, addr, pid))

    def detach_uprobe(self, name=b"", sym=b"", addr=None, pid=-1, sym_off=0):
        self._detach_uprobe_kind(b"p", name, sym, addr, pid, sym_off)

    def detach_uretprobe(self, name=b"", sym=b"", addr=None, pid=-1):
        self._detach_uprobe_kind(b"r", name, sym, addr, pid, 0)

    def num_open_kprobes(self):
        return len(self.kprobe_fds)

    def num_open_uprobes(self):
        return len(self.uprobe_fds)

    def num_open_tracepoints(self):
        return len(self.tracepoint_fds)
