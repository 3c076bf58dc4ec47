"""CO-RE on the running kernel: core_task.bpf.o relocated by bcc-core, loaded, attached to
sys_enter_getppid, and what it read compared with values computed here independently."""
import ctypes
import os
import re
import subprocess
import threading

import pytest

from bcc_core.attach.auto import attach_auto
from bcc_core.errors import VerifierError
from bcc_core.load.loader import Object
from conftest import BPFTOOL

PR_SET_NAME, PR_GET_NAME = 15, 16
PR_SET_CHILD_SUBREAPER, PR_GET_CHILD_SUBREAPER = 36, 37
_libc = ctypes.CDLL(None, use_errno=True)


def prctl(op, arg=0):
    if _libc.prctl(op, ctypes.c_ulong(arg), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(%d)" % op)


def get_subreaper():
    v = ctypes.c_int(0)
    if _libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.byref(v), 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_GET_CHILD_SUBREAPER)")
    return v.value


def kernel_version_from_uname():
    a, b, c = (list(map(int, re.findall(r"\d+", os.uname().release)[:3])) + [0, 0])[:3]
    return (a << 16) | (b << 8) | min(c, 255)


def struct_size(name):
    """sizeof(struct name) in the running kernel, per bpftool (not bcc-core's BTF code)."""
    if BPFTOOL is None:
        return None
    out = subprocess.run([BPFTOOL, "btf", "dump", "file", "/sys/kernel/btf/vmlinux"],
                         capture_output=True, text=True).stdout
    m = re.search(r"^\[\d+\] STRUCT '%s' size=(\d+)" % re.escape(name), out, re.M)
    return int(m.group(1)) if m else None


class _Vars:
    """Globals by name, whichever of .bss/.data holds them."""

    def __init__(self, obj):
        self.obj = obj

    def __getitem__(self, name):
        return self.obj.global_var(name)

    def raw(self, name):
        return self.obj.bss.raw(name)


@pytest.fixture(scope="module")
def core_task(bpf_obj):
    return bpf_obj("core_task")


def test_task_struct_reads(core_task):
    old_name = open("/proc/thread-self/comm").read().strip()
    old_subreaper = get_subreaper()
    seen = {}

    def trigger():
        # in a thread of its own: pid (thread id) != tgid
        prctl(PR_SET_NAME, ctypes.cast(ctypes.c_char_p(b"core-tid-test"), ctypes.c_void_p)
              .value)
        seen["tid"] = threading.get_native_id()
        seen["comm"] = open("/proc/thread-self/comm").read().strip()
        os.getppid()

    try:
        with Object(core_task, rodata={"target_tgid": os.getpid()}) as o:
            with attach_auto(o.program("on_getppid")):
                prctl(PR_SET_CHILD_SUBREAPER, 1)
                t = threading.Thread(target=trigger)
                t.start()
                t.join()
                bss = _Vars(o)
                assert bss["hits"] == 1
                assert bss["subreaper"] == 1, "BPF_CORE_READ_BITFIELD_PROBED"
                prctl(PR_SET_CHILD_SUBREAPER, 0)
                os.getppid()
            assert bss["hits"] == 2
            assert bss["subreaper"] == 0
            assert bss["tgid"] == os.getpid()
            assert bss["pid"] == threading.get_native_id()     # the main thread, last
            assert seen["tid"] != os.getpid()
            assert bss["ppid"] == os.getppid()
            comm = bss.raw("comm").split(b"\0", 1)[0].decode()
            assert comm == open("/proc/thread-self/comm").read().strip()
            assert seen["comm"] == "core-tid-test"
            assert bss["comm_size"] == 16                      # TASK_COMM_LEN
            assert bss["state"] == 0                           # TASK_RUNNING
            assert bss["has_state_new"] == 1                   # 5.14+: __state
            assert bss["has_state_old"] == 0
            assert bss["fake_exists"] == 0
            assert bss["enum_ktime"] == 5                      # UAPI BPF_FUNC_ktime_get_ns
            assert bss["enum_ringbuf"] == 27                   # UAPI BPF_MAP_TYPE_RINGBUF
            assert bss["enum_ktime_exists"] == 1
            assert bss["enum_missing_exists"] == 0
            assert bss["task_exists"] == 1
            assert bss["no_type_exists"] == 0
            assert bss["pt_regs_size"] == 21 * 8               # x86-64 struct pt_regs
            size = struct_size("task_struct")
            if size is not None:
                assert bss["task_size"] == size
            assert bss["kver"] == kernel_version_from_uname()
    finally:
        prctl(PR_SET_CHILD_SUBREAPER, old_subreaper)
    assert open("/proc/thread-self/comm").read().strip() == old_name


def test_thread_pid_from_other_thread(core_task):
    """pid is the *thread* id: read from a second thread it is that thread's id."""
    res = {}
    with Object(core_task, rodata={"target_tgid": os.getpid()}) as o:
        with attach_auto(o.program("on_getppid")):
            def trigger():
                res["tid"] = threading.get_native_id()
                os.getppid()
            t = threading.Thread(target=trigger)
            t.start()
            t.join()
        assert o.bss["hits"] == 1
        assert o.bss["pid"] == res["tid"] != os.getpid()
        assert o.bss["tgid"] == os.getpid()


def test_other_tgid_filtered_out(core_task):
    with Object(core_task, rodata={"target_tgid": 1}) as o:
        with attach_auto(o.program("on_getppid")):
            os.getppid()
        assert o.bss["hits"] == 0


def test_poisoned_relocation_names_itself(core_task):
    """A program whose only CO-RE relocation is poisoned (a field no kernel has, read
    without a guard) is rejected, and the error says which relocation did it."""
    with pytest.raises(VerifierError) as ei:
        Object(core_task, autoload={"on_getppid": False, "read_missing_field": True})
    msg = str(ei.value)
    assert "read_missing_field" in msg
    assert "195896080" in ei.value.log or "unknown#" in ei.value.log
    assert "poisoned by a failed CO-RE relocation" in msg, msg
    assert "task_struct___fake.no_such_field" in msg, msg
