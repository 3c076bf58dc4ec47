"""Attach a program where its SEC() name says (libbpf's auto-attach): the one place that
knows every kind of attach point, above :mod:`~bcc_core.attach.link` and
:mod:`~bcc_core.attach.probe`."""
from ..errors import AttachError, NotSupportedError
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
    if kind == "usdt":
        if not tgt:
            return None         # SEC("usdt"): attached by the caller (attach_usdt)
        return attach_usdt_target(prog, tgt)
    if kind in ("kprobe.multi", "uprobe.multi"):
        refuse_multi(prog)
    return None


def attach_usdt_target(prog, tgt):
    """SEC("usdt/PATH:PROVIDER:NAME"): the probe's every location, any process."""
    from .usdt import attach_usdt
    parts = tgt.rsplit(":", 2)
    if len(parts) != 3 or not all(parts):
        raise AttachError("program '%s': SEC(\"%s\") is not usdt/PATH:PROVIDER:NAME"
                          % (prog.name, prog.spec.sec_name))
    return attach_usdt(prog, *parts)


def refuse_multi(prog):
    """kprobe.multi / uprobe.multi / *.session links are not made by bcc-core: say so at
    attach time rather than leave the program loaded and idle."""
    raise NotSupportedError(
        "program '%s': SEC(\"%s\") needs a multi-probe link, which bcc-core does not "
        "attach yet; use SEC(\"%s/...\") with one target per program"
        % (prog.name, prog.spec.sec_name,
           "kprobe" if prog.spec.sec_def.attach_kind == "kprobe.multi" else "uprobe"))
