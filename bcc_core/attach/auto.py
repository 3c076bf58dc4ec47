"""Attach a program where its SEC() name says (libbpf's auto-attach): the one place that
knows every kind of attach point, above :mod:`~bcc_core.attach.link` and
:mod:`~bcc_core.attach.probe`."""
from . import probe
from .link import attach_raw_tracepoint, attach_trace, attach_tracepoint


def attach_auto(prog):
    """Attach a program where its SEC() name says (libbpf's auto-attach), or return None
    when the section carries no target (e.g. SEC("tp") or socket filters)."""
    sd = prog.spec.sec_def
    tgt = prog.spec.attach_target
    kind = sd.attach_kind
    if kind == "tracepoint":
        if "/" not in tgt:
            return None
        cat, name = tgt.split("/", 1)
        return attach_tracepoint(prog, cat, name)
    if kind == "raw_tp":
        return attach_raw_tracepoint(prog, tgt) if tgt else None
    if kind in ("trace", "lsm"):
        return attach_trace(prog)
    if kind in ("kprobe", "kretprobe", "ksyscall", "kretsyscall"):
        if not tgt:
            return None
        return probe.attach_kprobe(prog, tgt, retprobe=kind in ("kretprobe", "kretsyscall"),
                                   syscall=kind.endswith("syscall"))
    return None
