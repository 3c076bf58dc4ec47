"""libbpf-style USDT programs (``SEC("usdt/...")``, ``BPF_USDT()`` of
<bpf/usdt.bpf.h>) on the probes of tests/usdt/usdt_app.c and its shared library: the
loader fills ``__bpf_usdt_specs`` from the probes' notes and attaches each location with
its spec id as cookie.  Each argument reads as the program passed it, bpf_usdt_cookie()
is the attach's cookie, bpf_usdt_arg_cnt() the probe's count, and a probe whose argument
the program's usdt.bpf.h cannot express is refused saying why."""
import os
import time

import pytest

from conftest import need_root
from test_usdt_c import CC, SDT, _start, app  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.skipif(CC is None, reason="no C compiler (apt-get install gcc)"),
              pytest.mark.skipif(not SDT, reason="no <sys/sdt.h> (apt-get install "
                                 "systemtap-sdt-dev)"),
              pytest.mark.skipif(not os.path.exists("/usr/include/bpf/usdt.bpf.h"),
                                 reason="no <bpf/usdt.bpf.h> (apt-get install libbpf-dev)")]


def _has_sib():
    with open("/usr/include/bpf/usdt.bpf.h") as f:
        return "BPF_USDT_ARG_SIB" in f.read()


def test_spec_encoding_follows_the_objects_btf(bpf_obj, app):   # noqa: F811
    """Pure: the spec bytes for gcc's argument forms, laid out by the object's BTF."""
    need_root()
    from bcc_core.attach.usdt import SpecLayout, pt_regs_offsets
    from bcc_core.load.loader import Object
    from bcc_core.obj.usdt import Argument
    exe, lib = app
    with Object(bpf_obj("usdt", ['-DUSDT_LIB="%s"' % lib])) as o:
        lay = SpecLayout(o.btf)
    regs = pt_regs_offsets()
    assert regs["di"] == 112 and regs["ax"] == 80            # x86-64 struct pt_regs
    blob = lay.encode([Argument("-4@%edi"), Argument("8@-16(%rbp)"), Argument("2@$7")],
                      0xabc, regs, "t")
    assert len(blob) == lay.size

    def arg(i, name):
        off, size = lay.arg[name]
        base = lay.args_off + i * lay.arg_size + off
        return int.from_bytes(blob[base:base + size], "little", signed=name == "val_off" or
                              name == "reg_off")
    assert [arg(0, "arg_type"), arg(0, "reg_off"), arg(0, "arg_signed"),
            arg(0, "arg_bitshift")] == [1, 112, 1, 32]
    assert [arg(1, "arg_type"), arg(1, "reg_off"), arg(1, "val_off"),
            arg(1, "arg_bitshift")] == [2, 32, -16, 0]
    assert [arg(2, "arg_type"), arg(2, "val_off"), arg(2, "arg_signed"),
            arg(2, "arg_bitshift")] == [0, 7, 0, 48]
    assert int.from_bytes(blob[lay.cookie_off:lay.cookie_off + 8], "little") == 0xabc
    assert int.from_bytes(blob[lay.cnt_off:lay.cnt_off + 2], "little") == 3


def test_usdt_programs_get_their_arguments(bpf_obj, app):   # noqa: F811
    need_root()
    from bcc_core import BPF
    from bcc_core.attach.usdt import attach_usdt
    from bcc_core.errors import NotSupportedError
    exe, lib = app
    obj = bpf_obj("usdt", ['-DUSDT_LIB="%s"' % lib])
    work = _start(exe, 3)
    ticks = []
    try:
        # SEC("usdt/LIB:mylib:fire") is attached by BPF() itself (any process)
        with BPF(src_file=obj) as b:
            progs = b.module.programs
            links = [attach_usdt(progs["on_args"], exe, "myapp", "args", pid=work.pid,
                                 cookie=0x1234)]
            if _has_sib():
                links.append(attach_usdt(progs["on_tick"], exe, "myapp", "tick"))
            else:
                with pytest.raises(NotSupportedError, match="scaled index"):
                    attach_usdt(progs["on_tick"], exe, "myapp", "tick")
            b["ticks"].open_ring_buffer(lambda ctx, data, size: ticks.append(
                (lambda e: (e.n, e.neg, e.name, e.c, e.cookie, e.arg_cnt))(
                    b["ticks"].event(data))))
            end = time.time() + 1.0
            while time.time() < end:
                b.ring_buffer_poll(timeout=100)
            bss = b.module.bss
            seen = {k: bss[k] for k in ("args_seen", "args_bad", "args_cookie",
                                        "fires_seen", "fires_bad")}
            for lk in links:
                lk.close()
    finally:
        work.kill()
        work.wait()
    assert seen["args_seen"] > 50 and seen["args_bad"] == 0, seen
    assert seen["args_cookie"] == 0x1234, seen
    assert seen["fires_seen"] > 50 and seen["fires_bad"] == 0, seen
    if _has_sib():
        assert len(ticks) > 50 and all(t[5] == 4 for t in ticks), ticks[:3]


def test_multi_probe_sections_are_refused_at_attach():
    """A section the loader recognises but does not attach is an error, never an idle
    program."""
    from bcc_core.attach.auto import refuse_multi
    from bcc_core.errors import NotSupportedError
    from bcc_core.obj.sec import find_sec_def

    class P:
        name = "multi"

        class spec:
            sec_name = "uprobe.multi//usr/lib/libc.so.6:malloc*"
            sec_def = find_sec_def("uprobe.multi//usr/lib/libc.so.6:malloc*")
    with pytest.raises(NotSupportedError, match="multi-probe link"):
        refuse_multi(P)
