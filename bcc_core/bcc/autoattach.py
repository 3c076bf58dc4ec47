"""What BPF() attaches by itself (a mixin of :class:`bcc_core.bpf.BPF`): programs whose
SEC() names a target, as libbpf's auto-attach, and programs named the BCC way
(kprobe__X, tracepoint__cat__event...)."""
from ..attach import link as _link
from ..errors import NotSupportedError
from ..load import features as _features


class AutoAttach(object):
    """BPF's auto-attach at load time."""

    def _trace_autoload(self):
        for name, prog in self._obj.programs.items():
            if prog.fd < 0 and name not in self._deferred:
                continue        # not loaded on purpose (autoload off, SEC("?..."))
            if name.startswith("syscall__"):
                continue        # BCC's scripts attach these themselves (execsnoop...)
            sd = prog.spec.sec_def
            kind = sd.attach_kind if sd is not None else None
            tgt = prog.spec.attach_target
            if kind and tgt and self._autoattach_sec(name, prog, kind, tgt):
                continue
            self._attach_by_name(name.encode())

    def _attach_by_name(self, bname):
        """Attach a program by BCC's naming convention (kprobe__vfs_read,
        tracepoint__sched__sched_switch...); other names are left alone."""
        prefix, _, target = bname.partition(b"__")
        if prefix == b"kprobe":
            self.attach_kprobe(event=self.fix_syscall_fnname(target), fn_name=bname)
        elif prefix == b"kretprobe":
            self.attach_kretprobe(event=self.fix_syscall_fnname(target), fn_name=bname)
        elif prefix == b"tracepoint":
            # category__event -> "category:event"
            self.attach_tracepoint(tp=target.replace(b"__", b":"), fn_name=bname)
        elif prefix == b"raw_tracepoint":
            self.attach_raw_tracepoint(tp=target, fn_name=bname)
        elif prefix in (b"kfunc", b"kretfunc", b"lsm"):
            attach = {b"kfunc": self.attach_kfunc, b"kretfunc": self.attach_kretfunc,
                      b"lsm": self.attach_lsm}[prefix]
            attach(fn_name=bname)

    def _autoattach_sec(self, name, prog, kind, tgt):
        """Attach a program whose SEC() names its target.  True if handled."""
        bname = name.encode()
        if kind == "tracepoint":
            if "/" not in tgt:
                return False
            self.attach_tracepoint(tp=tgt.replace("/", ":", 1).encode(), fn_name=bname)
            return True
        if kind == "raw_tp":
            self.attach_raw_tracepoint(tp=tgt.encode(), fn_name=bname)
            return True
        if kind in ("kprobe", "kretprobe", "ksyscall", "kretsyscall"):
            ev = tgt.encode()
            off = 0
            import re
            m = re.match(rb"^(.+)\+(0x[0-9a-fA-F]+|\d+)$", ev)
            if m:
                ev, off = m.group(1), int(m.group(2), 0)
            if kind in ("ksyscall", "kretsyscall"):
                ev = self.get_syscall_fnname(ev)
            elif name.startswith(("kprobe__", "kretprobe__")):
                ev = self.fix_syscall_fnname(ev)    # BCC: kprobe__sys_getuid -> __x64_sys_getuid
            if kind in ("kprobe", "ksyscall"):
                self.attach_kprobe(event=ev, event_off=off, fn_name=bname)
            else:
                self.attach_kretprobe(event=ev, fn_name=bname)
            return True
        if kind in ("trace", "lsm"):
            return self._autoattach_trampoline(name, prog, kind)
        if kind == "usdt":      # SEC("usdt/PATH:PROVIDER:NAME") as libbpf
            from ..attach.auto import attach_usdt_target
            self.attachments.auto.append(attach_usdt_target(self._prog(bname), tgt))
            return True
        if kind in ("kprobe.multi", "uprobe.multi"):
            from ..attach.auto import refuse_multi
            refuse_multi(prog)
        if kind in ("uprobe", "uretprobe"):
            # SEC("uprobe/PATH:FUNC[+OFF]") as libbpf
            import re
            m = re.match(r"^([^:]+):([^+]+)(?:\+(0x[0-9a-fA-F]+|\d+))?$", tgt)
            if not m:
                return False
            path, func, off = m.group(1), m.group(2), int(m.group(3) or "0", 0)
            if kind == "uprobe":
                self.attach_uprobe(name=path.encode(), sym=func.encode(), fn_name=bname,
                                   sym_off=off)
            else:
                self.attach_uretprobe(name=path.encode(), sym=func.encode(), fn_name=bname)
            return True
        return False

    def _autoattach_trampoline(self, name, prog, kind):
        """Attach a SEC("fentry/..."), "fexit/...", "fmod_ret/...", "lsm/...",
        "tp_btf/..." program; SEC("iter/...") programs are left alone."""
        bname = name.encode()
        sec = prog.spec.sec_name
        if sec.startswith(("fexit", "fmod_ret")):
            table, what = self.kfunc_exit_fds, "kernel exit func"
        elif sec.startswith("fentry"):
            table, what = self.kfunc_entry_fds, "kernel entry func"
        elif kind == "lsm":
            table, what = self.lsm_fds, "LSM"
        else:                           # tp_btf, iter...
            p = self._prog(bname)
            if prog.spec.sec_name.startswith("iter"):
                return True
            self.attachments.auto.append(_link.attach_trace(p))
            return True
        if prog.fd < 0 or not _features.trampolines()[0]:
            why = str(self._deferred.get(name) or _features.trampolines()[1])
            hint = "" if "instead" in why else \
                "; use a tracepoint or raw tracepoint instead"
            raise NotSupportedError("cannot attach %s (%s, SEC(\"%s\")): %s%s"
                                    % (name, what, sec, why, hint))
        table[bname] = _link.attach_trace(prog)
        self.load_func(bname)
        return True
