"""Batch reading (``read_records``) gives exactly what the callbacks give: the same
records, in the same order, through ring wrap-around and lost-sample records, for perf
buffers and ring buffers; a decode that raises skips only its record."""
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcc_core.attach import auto as link
from bcc_core.events.perf_buffer import PerfBuffer
from bcc_core.events.ringbuf import RingBuffer
from bcc_core.load.loader import Object
from conftest import need_root
from test_events import EV, _open_paths


def _workload(tmp, opens, per_open, drain, obj_path, kind, page_cnt=2, batch=True):
    """Run ``opens`` opens of ``per_open`` records each (84 bytes in a perf ring of 2
    pages: it wraps, and overflows without ``drain``), draining after each open
    (``drain`` True) or only at the end; returns (records, lost)."""
    p = os.path.join(tmp, "x")
    got, lost = [], []
    with Object(obj_path, rodata={"target_tgid": os.getpid(), "repeat": per_open}) as o:
        if kind == "perf":
            rd = PerfBuffer(o.map("perf_events"), lambda cpu, d: got.append(bytes(d)),
                            lambda cpu, n: lost.append(n), page_cnt=page_cnt)
        else:
            rd = RingBuffer().add(o.map("ring_events"), lambda d: got.append(bytes(d)))
        with rd, link.attach_auto(o.program("on_openat")):
            for _ in range(opens):
                _open_paths([p])
                if drain:
                    got.extend(rd.read_records()) if batch else rd.consume()
            got.extend(rd.read_records()) if batch else rd.consume()
            _open_paths([p])         # a perf buffer's losses come with a later record
            got.extend(rd.read_records(timeout_ms=100)) if batch else rd.consume()
    return got, sum(lost)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(opens=st.integers(1, 12), per_open=st.integers(1, 64), drain=st.booleans(),
       kind=st.sampled_from(["perf", "ring"]))
def test_batch_equals_callbacks(bpf_obj, tmp_path_factory, opens, per_open, drain, kind):
    need_root()
    obj = bpf_obj("events")
    tmp = str(tmp_path_factory.mktemp("b"))
    a, lost_a = _workload(tmp, opens, per_open, drain, obj, kind, batch=True)
    b, lost_b = _workload(tmp, opens, per_open, drain, obj, kind, batch=False)
    seq = lambda recs: [EV.unpack(r[:EV.size])[1] for r in recs]   # noqa: E731
    assert len(a) + lost_a == len(b) + lost_b == (opens + 1) * per_open
    if not lost_a and not lost_b:
        assert a == b                       # the same records, in the same order
        assert seq(a) == list(range(len(a)))
    else:                                   # in order, none twice
        assert seq(a) == sorted(set(seq(a)))


def test_decode_error_skips_only_its_record(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    with Object(bpf_obj("events"), rodata={"target_tgid": os.getpid(), "repeat": 5}) as o:
        with PerfBuffer(o.map("perf_events"), lambda cpu, d: None) as pb, \
                link.attach_auto(o.program("on_openat")):
            _open_paths([p])

            def bad(d):
                if EV.unpack(d[:EV.size])[1] == 2:
                    raise ValueError("record 2")
                return EV.unpack(d[:EV.size])[1]
            with pytest.raises(ValueError, match="record 2"):
                pb.read_records(bad)
            assert pb.read_records(bad) == [3, 4]


@pytest.mark.parametrize("table", ["events", "ring"])
def test_facade_records_iterator(bpf_obj, table):
    """``for ev in b["events"].records(timeout=...)``: the same decoded events as the
    callbacks' event(data), in order; ``raw=True`` gives bytes; read_records() a list."""
    need_root()
    import ctypes
    from bcc_core import BPF
    obj = bpf_obj("facade")
    libc = ctypes.CDLL(None)
    devnull = os.open("/dev/null", os.O_WRONLY)
    try:
        with BPF(src_file=obj, rodata={"target_tgid": os.getpid(),
                                       "target_fd": devnull}) as b:
            t = b[table]
            t.read_records(timeout=50)      # opens the buffer; this process's own opens
            for i in range(5):
                os.close(os.open("/etc/hostname", os.O_RDONLY))
            evs = [e for e in t.records(timeout=100) if e.path == b"/etc/hostname"]
            assert [e.seq for e in evs] == sorted(e.seq for e in evs) and len(evs) == 5
            assert all(e.pid == os.getpid() for e in evs)
            os.close(os.open("/etc/hostname", os.O_RDONLY))
            raw = t.read_records(timeout=100, raw=True)
            assert raw and all(isinstance(r, bytes) for r in raw)
            last = [t.event(r) for r in raw if t.event(r).path == b"/etc/hostname"]
            assert len(last) == 1 and last[0].seq > evs[-1].seq
    finally:
        os.close(devnull)
        del libc

