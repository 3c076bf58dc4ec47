"""kprobes, kretprobes, fentry/fexit and tp_btf on the guest kernel (Debian 6.1), with
objects compiled on the host; the core API (bcc_core.load.loader, bcc_core.attach) and, when it
exists, the BCC facade (``from bcc_core import BPF``)."""
import ctypes
import os
import struct
import time

import pytest

import guestlib
from guestlib import guest_obj, open_paths  # noqa: F401 (fixtures)
from bcc_core.attach import probe
from bcc_core.attach.auto import attach_auto
from bcc_core.load import features
from bcc_core.load.loader import Object

pytestmark = guestlib.only_in_guest

SLOTS = 16
NR_GETPPID = 110          # x86_64


def _paths(tag):
    # existing files and a missing one (-ENOENT)
    return ["/etc/hostname", "/etc/passwd", "/nonexistent/bcc-core-%s-%d" % (tag, os.getpid()),
            "/etc/os-release"]


def _names(obj, n):
    raw = obj.bss.raw("names")
    return [raw[i * 64:(i + 1) * 64].split(b"\0", 1)[0].decode() for i in range(min(n, SLOTS))]


def _rets(obj, n):
    raw = obj.bss.raw("rets")
    return list(struct.unpack("<%dq" % SLOTS, raw))[:min(n, SLOTS)]


def _reset(obj):
    """Attaching kprobes opens sysfs files (the kprobe PMU's type) from this very
    process, and the first probe is live by then: start counting from here."""
    obj.bss["enter_count"] = 0
    obj.bss["exit_count"] = 0


def _check_open_trace(obj, paths, got, kind):
    enters, exits = obj.bss["enter_count"], obj.bss["exit_count"]
    names, rets = _names(obj, enters), _rets(obj, exits)
    guestlib.write_result(kind, {"paths": paths, "user_space": got, "names": names,
                                 "rets": rets, "enter_count": enters, "exit_count": exits})
    assert enters == len(paths), (kind, names)
    assert exits == len(paths), (kind, rets)
    assert names == paths
    assert rets == got                  # fds and -errno exactly as user space saw them
    assert got[2] == -2                 # the missing file: -ENOENT


def test_kernel_has_what_the_host_lacks():
    assert features.kprobes()[0], features.kprobes()[1]
    assert features.trampolines()[0], features.trampolines()[1]


def test_kprobe_and_kretprobe_via_attach_auto(guest_obj, open_paths):
    paths = _paths("kprobe")
    with Object(guest_obj("guest_kprobe"), rodata={"target_tgid": os.getpid()}) as o:
        links = [attach_auto(p) for p in o.programs.values()]
        try:
            assert sorted(l.kind for l in links) == ["kprobe", "kretprobe"]
            _reset(o)
            counts = o.map("counts")
            before = [int.from_bytes(counts.lookup(k), "little") for k in (0, 1)]
            got = open_paths(paths)
        finally:
            for l in links:
                l.close()
        _check_open_trace(o, paths, got, "kprobe")
        after = [int.from_bytes(counts.lookup(k), "little") for k in (0, 1)]
        assert [a - b for a, b in zip(after, before)] == [len(paths), len(paths)]


def test_kprobe_via_probe_attach_kprobe(guest_obj, open_paths):
    """probe.attach_kprobe directly, and detaching really stops the counting."""
    paths = ["/etc/hostname", "/etc/hostname", "/nonexistent/x"]
    with Object(guest_obj("guest_kprobe"), rodata={"target_tgid": os.getpid()}) as o:
        ent = probe.attach_kprobe(o.program("kprobe_open"), "do_sys_openat2")
        ret = probe.attach_kprobe(o.program("kretprobe_open"), "do_sys_openat2",
                                  retprobe=True)
        _reset(o)
        got = open_paths(paths)
        ent.close()
        ret.close()
        open_paths(["/etc/hostname"])          # not counted any more
        assert o.bss["enter_count"] == 3 and o.bss["exit_count"] == 3
        assert _rets(o, 3) == got
        assert _names(o, 3) == paths


def test_fentry_and_fexit(guest_obj, open_paths):
    paths = _paths("fentry")
    with Object(guest_obj("guest_fentry"), rodata={"target_tgid": os.getpid()}) as o:
        links = [attach_auto(p) for p in o.programs.values()]
        try:
            assert [l.kind for l in links] == ["trace", "trace"]
            _reset(o)
            got = open_paths(paths)
        finally:
            for l in links:
                l.close()
        _check_open_trace(o, paths, got, "fentry")


def test_tp_btf_sys_enter_and_sched_switch(guest_obj):
    calls, sleeps = 7, 5
    with Object(guest_obj("guest_tp_btf"),
                rodata={"target_tgid": os.getpid(), "target_nr": NR_GETPPID}) as o:
        links = [attach_auto(p) for p in o.programs.values()]
        try:
            for _ in range(calls):
                os.getppid()
            for _ in range(sleeps):
                time.sleep(0.02)            # each sleep switches this thread out and in
        finally:
            for l in links:
                l.close()
        res = {k: o.bss[k] for k in ("sys_count", "switch_out", "switch_in")}
        guestlib.write_result("tp_btf", res)
        assert res["sys_count"] == calls
        assert res["switch_out"] >= sleeps and res["switch_in"] >= sleeps


def test_bcc_facade_kprobe(guest_obj, open_paths):
    """The same kprobe object through the BCC-compatible API, if it exists yet."""
    try:
        from bcc_core import BPF
    except ImportError as e:
        pytest.skip("the BCC facade is not there yet (from bcc_core import BPF: %s)" % e)
    paths = ["/etc/hostname", "/nonexistent/facade", "/etc/passwd"]
    b = BPF(src_file=guest_obj("guest_kprobe"), rodata={"target_tgid": os.getpid()})
    try:
        n = b.num_open_kprobes() if hasattr(b, "num_open_kprobes") else 0
        if not n:       # no auto-attach from SEC() names: attach like a BCC tool does
            b.attach_kprobe(event="do_sys_openat2", fn_name="kprobe_open")
            b.attach_kretprobe(event="do_sys_openat2", fn_name="kretprobe_open")
        if hasattr(b, "num_open_kprobes"):
            assert b.num_open_kprobes() == 2
        counts = b["counts"]
        before = [counts[ctypes.c_uint(k)].value for k in (0, 1)]   # attaching opened files
        open_paths(paths)
        after = [counts[ctypes.c_uint(k)].value for k in (0, 1)]
        assert [a - b for a, b in zip(after, before)] == [3, 3], (before, after)
    finally:
        b.cleanup()
