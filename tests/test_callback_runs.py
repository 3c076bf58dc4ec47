"""BCC-style callbacks over runs of equal samples (events/perf_buffer.PerfBuffer.
_call_run): the records event(data) returns inside the callback are decoded a run at a
time beforehand, and equal what from_address decodes at the same address; a callback
that never asks for them turns that off; a callback raising mid-run leaves the rest of
the run for the next poll.  After a first run that shows the callback calls event(),
the table's event is the run's look-up (in C) while each run lasts; ring buffer
callbacks alike.  Real perf and ring buffers, the facade's tables."""
import os

import pytest

from bcc_core import BPF
from conftest import need_root
from test_events import _open_paths


def _bpf(bpf_obj, repeat):
    return BPF(src_file=bpf_obj("events"), rodata={"target_tgid": os.getpid(),
                                                  "repeat": repeat})


def test_predecoded_records_equal_single_decoding(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    seen = []
    with _bpf(bpf_obj, 64) as b:
        t = b["perf_events"]

        def cb(cpu, data, size):
            rec = t.event(data)
            pre = t._reader.lookup.decoded is not None or "event" in vars(t)
            seen.append((rec, type(rec).from_address(data), pre))
        t.open_perf_buffer(cb, page_cnt=64)
        _open_paths([p])                    # the first event() call names the class
        b.perf_buffer_poll(1000)
        b.perf_buffer_consume()
        del seen[:]
        for _ in range(3):
            _open_paths([p])
        b.perf_buffer_poll(1000)
        b.perf_buffer_consume()
    assert len(seen) >= 3 * 64
    assert all(a == s for a, s, _ in seen)
    seqs = [a.seq for a, _, _ in seen]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert sum(pre for _, _, pre in seen) >= 3 * 64    # decoded a run at a time
    assert sum(a.path == p.encode() for a, _, _ in seen) == 3 * 64


def test_callback_without_event_turns_predecoding_off(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    got = []
    with _bpf(bpf_obj, 16) as b:
        t = b["perf_events"]
        t.open_perf_buffer(lambda cpu, data, size: got.append(size), page_cnt=64)
        t.set_event_type("event")           # as a first event() call would
        assert t._reader.lookup.predecode is not None
        _open_paths([p])
        b.perf_buffer_poll(1000)
        assert t._reader.lookup.predecode is None and len(got) >= 16


def test_callback_raising_mid_run_leaves_the_rest(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    seqs = []
    with _bpf(bpf_obj, 32) as b:
        t = b["perf_events"]

        def cb(cpu, data, size):
            e = t.event(data)
            seqs.append(e.seq)
            if len(seqs) == 10:
                raise RuntimeError("stop at the tenth")
        t.open_perf_buffer(cb, page_cnt=64)
        b.perf_buffer_poll(0)
        del seqs[:]
        _open_paths([p])
        with pytest.raises(RuntimeError, match="tenth"):
            b.perf_buffer_poll(1000)
        assert len(seqs) == 10
        b.perf_buffer_consume()
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and len(seqs) >= 32


def _open(b, kind, cb):
    """Open ``kind``'s table with callback ``cb(data, size)``: (table, lookup, poll,
    consume)."""
    if kind == "perf":
        t = b["perf_events"]
        t.open_perf_buffer(lambda cpu, data, size: cb(data, size), page_cnt=64)
        return t, t._reader.lookup, b.perf_buffer_poll, b.perf_buffer_consume
    t = b["ring_events"]
    t.open_ring_buffer(lambda ctx, data, size: cb(data, size))
    return t, t._cb_lookup, b.ring_buffer_poll, b.ring_buffer_consume


@pytest.mark.parametrize("kind", ["perf", "ring"])
def test_runs_bind_the_tables_event(bpf_obj, tmp_path, kind):
    """Past the first run (the probe), event is bound to the run's look-up while the
    run's callbacks run: the same record twice if asked twice, bytes (not an address)
    decoded the long way, the table's own event() back after each run -- also when a
    callback raises.  Perf buffers and ring buffers alike."""
    need_root()
    import ctypes
    p = str(tmp_path / "x")
    got, bound, fail = [], [], [-1]
    with _bpf(bpf_obj, 32) as b:
        def cb(data, size):
            e = t.event(data)
            assert t.event(data) == e
            assert t.event(ctypes.string_at(data, size)) == e
            bound.append("event" in vars(t))
            if e.seq == fail[0]:
                raise RuntimeError("stop at %d" % e.seq)
            got.append(e.seq)
        t, lookup, poll, consume = _open(b, kind, cb)
        for _ in range(3):
            _open_paths([p])
            poll(1000)
            consume()
            assert "event" not in vars(t)
        assert lookup.bound and any(bound) and lookup.predecode is not None
        fail[0] = got[-1] + 5
        _open_paths([p])
        with pytest.raises(RuntimeError, match="stop at %d" % fail[0]):
            poll(1000)
        assert "event" not in vars(t) and not lookup.records
        consume()
    assert fail[0] not in got and got == sorted(got) and fail[0] + 1 in got


def test_ring_callback_stopping_mid_run(bpf_obj, tmp_path):
    """A ring buffer callback returning a negative number stops the poll after that
    record, in a run as one by one; the rest comes with the next poll."""
    need_root()
    p = str(tmp_path / "x")
    got, stop = [], [-1]
    with _bpf(bpf_obj, 32) as b:
        def cb(data, size):
            e = t.event(data)
            got.append(e.seq)
            return -1 if e.seq == stop[0] else 0
        t, lookup, poll, consume = _open(b, "ring", cb)
        for _ in range(2):
            _open_paths([p])
            poll(1000)
        stop[0] = got[-1] + 10
        _open_paths([p])
        poll(1000)
        assert got[-1] == stop[0] and lookup.bound
        consume()
    assert got == list(range(got[0], got[0] + len(got))) and got[-1] >= stop[0] + 22


@pytest.mark.parametrize("kind", ["perf", "ring"])
def test_callback_without_event_stops_predecoding(bpf_obj, tmp_path, kind):
    need_root()
    p = str(tmp_path / "x")
    got = []
    with _bpf(bpf_obj, 16) as b:
        t, lookup, poll, consume = _open(b, kind, lambda data, size: got.append(size))
        assert lookup.predecode is not None     # named when the buffer was opened
        _open_paths([p])
        poll(1000)
        assert lookup.predecode is None and len(got) >= 16
