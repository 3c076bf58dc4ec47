"""The loader on the real kernel: maps, global data, rodata knobs, subprograms, kconfig."""
import os

import pytest

from bcc_core.attach.auto import attach_auto
from bcc_core.load.kconfig import kernel_version
from bcc_core.load.loader import Object
from conftest import open_fds


def getppid_n(n):
    for _ in range(n):
        os.getppid()


def test_tracepoint_maps_bss_subprog_kconfig(bpf_obj):
    path = bpf_obj("basic")
    me = os.getpid()
    with Object(path, rodata={"target_tgid": me, "multiplier": 3}) as o:
        assert o.btf_fd >= 0, "object BTF should load into the kernel"
        assert set(o.maps) == {"counts", ".rodata", ".data", ".bss", ".kconfig"}
        assert o.rodata.as_dict() == {"target_tgid": me, "multiplier": 3}
        assert o.data["data_var"] == 42
        with attach_auto(o.program("on_getppid")):
            getppid_n(7)
        # the knob filtered on our tgid and multiplied through the subprogram
        assert o.bss["hits"] == 21
        assert o.data["data_var"] == 42 + 7
        counts = dict(o.map("counts").items())
        assert counts == {me.to_bytes(4, "little"): (21).to_bytes(8, "little")}
        # kconfig externs: version as libbpf computes it from uname, CONFIG_HZ from config
        assert o.bss["kver"] == kernel_version()
        rel = os.uname().release.split("-")[0].split(".")
        assert o.bss["kver"] >> 16 == int(rel[0]) and (o.bss["kver"] >> 8) & 0xFF == int(rel[1])
        from bcc_core.load.kconfig import read_config
        hz = read_config().get("CONFIG_HZ")
        assert o.bss["hz"] == (int(hz) if hz else 0)
        assert o.data["missing"] == 0       # weak extern missing from config -> 0
        assert o.bss["last_ns"] > 0
        # .bss is writable from user space
        o.bss["hits"] = 5
        assert o.bss["hits"] == 5


def test_rodata_knob_changes_behaviour(bpf_obj):
    path = bpf_obj("basic")
    # a target tgid that is not ours: nothing counted
    with Object(path, rodata={"target_tgid": 1}) as o:
        with attach_auto(o.program("on_getppid")):
            getppid_n(5)
        assert o.bss["hits"] == 0
        assert list(o.map("counts").keys()) == []
        # rodata is frozen: user space cannot change it after load
        with pytest.raises(OSError):
            o.rodata["target_tgid"] = 0


def test_no_fd_leak(bpf_obj):
    path = bpf_obj("basic")
    before = open_fds()
    for _ in range(3):
        o = Object(path)
        l = attach_auto(o.program("on_getppid"))
        getppid_n(1)
        l.close()
        o.close()
    assert open_fds() == before


def test_verifier_rejection_names_program_and_source_line(bpf_obj):
    from bcc_core.errors import VerifierError
    path = bpf_obj("rejected")
    before = open_fds()
    with pytest.raises(VerifierError) as ei:
        Object(path)
    e = ei.value
    assert e.program == "bad_deref"
    assert "rejected.bpf.c:" in (e.source_line or "")
    assert "BAD_LINE" in e.source_line
    assert "invalid mem access" in e.log or "map_value_or_null" in e.log
    assert "bad_deref" in str(e) and "verifier log" in str(e)
    assert open_fds() == before          # maps and BTF of the failed object are closed
    # the good program alone loads
    with Object(path, autoload={"bad_deref": False}) as o:
        assert o.program("good").fd >= 0 and o.program("bad_deref").fd == -1


def test_trampoline_programs_report_missing_feature(bpf_obj):
    from bcc_core.load import features
    from bcc_core.errors import NotSupportedError
    path = bpf_obj("features")
    ok, why = features.trampolines()
    if ok:
        pytest.skip("this kernel has BPF trampolines; fentry is exercised in the guest")
    print("host lacks trampolines:", why)
    with pytest.raises(NotSupportedError) as ei:
        Object(path, autoload={"on_openat2_fentry": True, "on_openat2_kprobe": False})
    msg = str(ei.value)
    assert "on_openat2_fentry" in msg and "trampolines" in msg and "tracepoint" in msg


def test_tp_btf_program_runs(bpf_obj):
    """tp_btf needs no trampoline: it attaches like a raw tracepoint with BTF args."""
    import time
    path = bpf_obj("features")
    with Object(path, autoload={"on_switch_btf": True, "on_openat2_kprobe": False}) as o:
        with attach_auto(o.program("on_switch_btf")):
            time.sleep(0.05)
        assert o.bss["tp_btf_hits"] > 0


def test_kprobe_program_loads_but_attach_reports_missing_kprobes(bpf_obj):
    from bcc_core.load import features
    from bcc_core.errors import NotSupportedError
    path = bpf_obj("features")
    with Object(path) as o:
        p = o.program("on_openat2_kprobe")
        assert p.fd >= 0        # kprobe programs load even without CONFIG_KPROBES
        ok, why = features.kprobes()
        if ok:
            pytest.skip("this kernel has kprobes; exercised in the guest tests")
        with pytest.raises(NotSupportedError, match="kprobes are not available"):
            attach_auto(p)
