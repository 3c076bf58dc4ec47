"""CO-RE across kernels: one object, compiled on the host against the host's vmlinux.h,
relocated by bcc_core against the guest's BTF.  task_struct's layout differs between the
host kernel and Debian's 6.1, so the target offsets must differ from the host's (which
tests/test_guest.py computed before booting) and the values read must be right here."""
import os
import threading

import guestlib
from guestlib import guest_obj  # noqa: F401 (fixture)
from bcc_core.attach.auto import attach_auto
from bcc_core.load.loader import Object

pytestmark = guestlib.only_in_guest

FIELDS = ("tgid", "pid", "real_parent", "comm")


def _offsets(obj):
    out = {}
    for d in obj.core_decisions:
        spec = str(d.spec)
        for f in FIELDS:
            if spec.endswith("task_struct." + f) and d.kind_name == "byte_off":
                out[f] = d.target_value
    return out


def test_core_offsets_differ_from_host_and_values_are_right(guest_obj):
    m = guestlib.manifest()
    host = m["host"]
    with Object(guest_obj("guest_core"), rodata={"target_tgid": os.getpid()}) as o:
        with attach_auto(o.program("on_getppid")):
            ppid = os.getppid()
        got = {k: o.bss[k] for k in ("hits", "core_tgid", "core_pid", "core_ppid",
                                     "helper_pid_tgid")}
        got["core_comm"] = o.bss["core_comm"].split(b"\0", 1)[0].decode()
        guest_offs = _offsets(o)
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    guestlib.write_result("core", {"guest_offsets": guest_offs, "values": got,
                                   "host_offsets": host.get("core_offsets"),
                                   "host_release": host.get("release"),
                                   "guest_release": os.uname().release})
    # values: this process, read through relocated offsets
    assert got["hits"] >= 1
    assert got["core_tgid"] == os.getpid() == got["helper_pid_tgid"] >> 32
    assert got["core_pid"] == threading.get_native_id() == got["helper_pid_tgid"] & 0xffffffff
    assert got["core_ppid"] == ppid
    assert got["core_comm"] == comm
    # decisions: every field relocated, and task_struct.tgid moved between kernels
    assert set(guest_offs) == set(FIELDS), guest_offs
    host_offs = host.get("core_offsets")
    assert host_offs, "the host could not compute its CO-RE decisions: %s" % host.get(
        "core_error")
    assert guest_offs["tgid"] != host_offs["tgid"], (guest_offs, host_offs)
    assert guest_offs != host_offs
