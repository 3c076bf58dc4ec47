"""Nothing leaks when a BPF object is dropped without cleanup(): after N rounds of
create / attach / open buffers / raise, with no cleanup() and no ``with``, and a
gc.collect(), this process's bpf fds and the kernel's programs, maps and links of the
object are back where they started (BCC's atexit.register(self.cleanup) kept every
instance alive until exit)."""
import gc
import json
import os
import subprocess
import time

import pytest

from conftest import BPFTOOL, need_root
from test_facade import bpf_fds, probe_entries

N = 12
# the facade object's programs and maps, as the kernel names them (15 chars)
PROGS = {"on_openat", "tracepoint__sys", "raw_tracepoint_", "on_write", "on_getpid",
         "on_getpid_ret", "on_sample"}
MAPS = {"events", "ring", "counts", "dist", "lin", "keyed", "pcpu", "stacks",
        "stack_counts", "ucalls"}


def kernel_objects():
    """(programs, maps, links) the kernel has that are the facade object's, by name."""
    if BPFTOOL is None:
        return None

    def show(what):
        r = subprocess.run([BPFTOOL, what, "show", "-j"], capture_output=True, text=True)
        return json.loads(r.stdout or "[]") if r.returncode == 0 else []
    progs = {p["id"] for p in show("prog") if p.get("name") in PROGS}
    maps = {m["id"] for m in show("map") if m.get("name") in MAPS}
    links = {l["id"] for l in show("link") if l.get("prog_id") in progs}
    return len(progs), len(maps), len(links)


class Boom(Exception):
    pass


def _round(obj, devnull, how):
    from bcc_core import BPF
    b = BPF(src_file=obj, rodata={"target_tgid": os.getpid(), "target_fd": devnull})
    b.attach_tracepoint(tp="syscalls:sys_enter_write", fn_name="on_write")
    b.attach_uprobe(name="c", sym="getpid", fn_name="on_getpid")
    b["events"].open_perf_buffer(lambda cpu, data, size: None)
    if how == "ring":
        b["ring"].open_ring_buffer(lambda ctx, data, size: 0)
    b["counts"]             # a table object, cached on b
    raise Boom(how)


@pytest.mark.parametrize("how", ["perf", "ring"])
def test_dropped_objects_release_everything(bpf_obj, how):
    need_root()
    obj = bpf_obj("facade")
    devnull = os.open("/dev/null", os.O_WRONLY)
    try:
        gc.collect()
        fds0, kern0, probes0 = bpf_fds(), kernel_objects(), probe_entries()
        nfd0 = len(os.listdir("/proc/self/fd"))
        for _ in range(N):
            with pytest.raises(Boom):
                _round(obj, devnull, how)
        gc.collect()
        assert bpf_fds() == fds0
        assert len(os.listdir("/proc/self/fd")) == nfd0
        # the kernel frees maps and programs from a work queue, after the last fd
        deadline = time.monotonic() + 5
        while kernel_objects() != kern0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert kernel_objects() == kern0
        assert probe_entries() == probes0
    finally:
        os.close(devnull)
