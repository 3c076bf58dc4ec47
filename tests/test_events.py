"""Perf buffer and ring buffer readers on the real kernel."""
import ctypes
import os
import struct

import pytest

from bcc_core.attach.auto import attach_auto
from bcc_core.events.perf_buffer import PerfBuffer
from bcc_core.events.ringbuf import RingBuffer
from bcc_core.load.loader import Object
from conftest import open_fds

EV = struct.Struct("<II64s")


def _open_paths(paths):
    for p in paths:
        try:
            os.close(os.open(p, os.O_RDONLY))
        except OSError:
            pass


def test_perf_and_ring_buffer_deliver_events(bpf_obj):
    import tempfile
    before = open_fds()
    d = tempfile.mkdtemp(prefix="bcc", dir="/tmp")
    paths = [os.path.join(d, "f%d" % i) for i in range(20)]
    for p in paths[:10]:
        open(p, "w").close()
    got_perf, got_ring, lost = [], [], []
    with Object(bpf_obj("events"), rodata={"target_tgid": os.getpid()}) as o:
        pb = PerfBuffer(o.map("perf_events"), lambda cpu, d: got_perf.append(EV.unpack(d[:EV.size])),
                        lambda cpu, n: lost.append(n))
        rb = RingBuffer().add(o.map("ring_events"), lambda d: got_ring.append(EV.unpack(d)))
        with attach_auto(o.program("on_openat")):
            _open_paths(paths)
        pb.poll(100)
        pb.consume()
        rb.poll(100)
        pb.close()
        rb.close()
    got_perf.sort(key=lambda g: g[1])   # per-CPU rings: order only within a CPU
    for got in (got_perf, got_ring):
        assert [g[0] for g in got] == [os.getpid()] * 20
        assert [g[2].rstrip(b"\0").decode() for g in got] == paths
        assert [g[1] for g in got] == list(range(20))
    assert not lost
    assert open_fds() == before
    import shutil
    shutil.rmtree(d)


@pytest.mark.parametrize("addresses", [False, True])
def test_perf_buffer_wraps_and_reports_lost(bpf_obj, tmp_path, addresses):
    """Few pages and many records: the ring wraps many times while we read, and
    overflows when we do not read (lost records reach lost_callback).  In address
    mode (the facade's) records that wrap are handed over from a scratch copy."""
    p = str(tmp_path / "x")
    n_per_open = 64
    got, lost = [], []
    if addresses:
        def cb(cpu, addr, n):
            assert n >= EV.size
            got.append(EV.unpack(ctypes.string_at(addr, EV.size))[1])
    else:
        def cb(cpu, d):
            got.append(EV.unpack(d[:EV.size])[1])
    with Object(bpf_obj("events"), rodata={"target_tgid": os.getpid(),
                                           "repeat": n_per_open}) as o:
        with PerfBuffer(o.map("perf_events"), cb, lambda cpu, n: lost.append(n), page_cnt=2,
                        addresses=addresses) as pb:
            with attach_auto(o.program("on_openat")):
                for _ in range(40):          # 64 records of 84 bytes per open: fits 8 KiB
                    _open_paths([p])
                    pb.consume()
                assert not lost and len(got) == 40 * n_per_open
                assert sorted(got) == list(range(len(got)))   # none lost, none twice
                got.clear()
                for _ in range(10):          # no reading: overflow
                    _open_paths([p])
                pb.consume()
                # the kernel reports the lost count with the next record it can write
                _open_paths([p])
                pb.consume()
    assert sum(lost) + len(got) == 11 * n_per_open
    assert sum(lost) > 0
