"""Batch decoding is single decoding: records of layouts taken from the kernel's BTF
(random structs, random bytes) are written into perf and ring buffer rings built in
memory -- wrapping around the ring's end, mixed with lost-sample records and discarded
ring records -- and read_records() must return exactly ``[cls(raw) for raw in them]``
(the inline construction of struct_view records included), count the losses, and
leave the consumer position at the producer's.  Pure: no kernel, no BPF."""
import mmap
import random
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bcc_core import btf as B
from bcc_core.events import perf_buffer as P
from bcc_core.events import ringbuf as R
from bcc_core.events._reader import EpollReader
from bcc_core.events.batch import RunDecoders
from bcc_core.events.struct_view import record_for

PAGE = mmap.PAGESIZE


@pytest.fixture(scope="module")
def layouts():
    k = B.kernel_btf()
    ids = [t.id for t in k.types() if t.kind == B.KIND_STRUCT and 8 <= (t.size or 0) <= 512]
    random.Random(7).shuffle(ids)
    out = []
    for tid in ids[:400]:
        try:
            out.append(record_for(k, tid))
        except Exception:
            continue
    return out


def _reader(cls):
    """A reader of ``cls`` without kernel rings (its rings are set by the test)."""
    rd = object.__new__(cls)
    EpollReader.__init__(rd)
    rd._runs = RunDecoders()
    return rd


class _Ring:            # what PerfBuffer's drain reads of a _CpuRing
    def __init__(self, pages):
        self.cpu, self.size = 0, pages * PAGE
        self.mask, self.data_off = self.size - 1, PAGE
        self.mm = mmap.mmap(-1, PAGE + self.size)


def _perf_ring(pages, start, items):
    """A perf ring whose data begins at position ``start``: items are ("s", bytes) or
    ("l", count); returns the ring (head and tail set)."""
    r = _Ring(pages)
    buf = bytearray()
    for kind, v in items:
        if kind == "s":
            rec = struct.pack("<IHHI", P.PERF_RECORD_SAMPLE, 0, 0, len(v)) + v
        else:
            rec = struct.pack("<IHHQQ", P.PERF_RECORD_LOST, 0, 0, 1, v)
        rec += b"\0" * (-len(rec) % 8)
        rec = rec[:6] + struct.pack("<H", len(rec)) + rec[8:]
        buf += rec
    assert len(buf) <= r.size
    for i, b in enumerate(buf):
        r.mm[PAGE + (start + i) % r.size] = b
    struct.pack_into("<Q", r.mm, 1024, start + len(buf))
    struct.pack_into("<Q", r.mm, 1032, start)
    return r


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_perf_batches_equal_single_records(layouts, data):
    cls = data.draw(st.sampled_from(layouts))
    rnd = random.Random(data.draw(st.integers(0, 1 << 30)))
    n = data.draw(st.integers(1, 40))
    items, want, lost = [], [], 0
    for _ in range(n):
        if data.draw(st.integers(0, 9)) == 0:
            c = data.draw(st.integers(1, 1000))
            items.append(("l", c))
            lost += c
        extra = data.draw(st.sampled_from([0, 0, 4]))   # the u32 size keeps alignment
        raw = bytes(rnd.getrandbits(8) for _ in range(cls._rec_size + extra))
        items.append(("s", raw))
        want.append(cls(raw))
    pages = 1
    while sum(len(v) + 24 for k, v in items if k == "s") + 24 * len(items) > pages * PAGE:
        pages *= 2
    start = data.draw(st.integers(0, pages * PAGE - 1)) & ~7     # wraps wherever
    r = _perf_ring(pages, start, items)
    pb = _reader(P.PerfBuffer)
    pb.lost, pb.lost_by_cpu, pb.lost_callback, pb.rings = 0, {}, None, {3: r}
    got = pb.read_records(cls)
    assert got == want and [bytes(g) for g in got] == [bytes(w) for w in want]
    assert pb.lost == lost and pb.lost_by_cpu == ({0: lost} if lost else {})
    assert struct.unpack_from("<Q", r.mm, 1032) == struct.unpack_from("<Q", r.mm, 1024)
    # and the generic path (any decode function) agrees
    r2 = _perf_ring(pages, start, items)
    pb.rings = {3: r2}
    assert pb.read_records(lambda b: cls(b)) == want


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_ring_batches_equal_single_records(layouts, data):
    cls = data.draw(st.sampled_from(layouts))
    rnd = random.Random(data.draw(st.integers(0, 1 << 30)))
    size = 1 << 16
    cons = mmap.mmap(-1, PAGE)
    prod = mmap.mmap(-1, PAGE + 2 * size)
    start = data.draw(st.integers(0, size - 1)) & ~7
    pos, want = start, []
    for _ in range(data.draw(st.integers(1, 40))):
        raw = bytes(rnd.getrandbits(8) for _ in range(cls._rec_size))
        discard = data.draw(st.integers(0, 7)) == 0
        rec = struct.pack("<II", len(raw) | (R.DISCARD if discard else 0), 0) + raw
        rec += b"\0" * (-len(rec) % 8)
        for i, b in enumerate(rec):         # the data pages are mapped twice in a row
            prod[PAGE + (pos + i) % size] = b
            prod[PAGE + size + (pos + i) % size] = b
        pos += len(rec)
        if not discard:
            want.append(cls(raw))
    struct.pack_into("<Q", cons, 0, start)
    struct.pack_into("<Q", prod, 0, pos)
    rb = _reader(R.RingBuffer)
    rb.rings = {5: (None, None, cons, prod, size - 1, 0, None)}
    assert rb.read_records(cls) == want
    assert struct.unpack_from("<Q", cons, 0)[0] == pos


@pytest.mark.parametrize("kind", ["perf", "ring"])
def test_long_runs_take_the_run_decoder(layouts, kind):
    """Hundreds of equal records, wrapping around the ring's end, with one record of
    another data size (same stride: 4 more bytes of data) in the middle of the run:
    decoded by batch.RunDecoder (one entry made per shape), equal to single decoding."""
    cls = next(c for c in layouts if c._rec_size % 8 == 0 and c._rec_size >= 16)
    rnd = random.Random(3)
    raws = [bytes(rnd.getrandbits(8) for _ in range(cls._rec_size)) for _ in range(600)]
    raws[300] += b"\1\2\3\4"
    want = [cls(r) for r in raws]
    if kind == "perf":
        pages = 1
        while (cls._rec_size + 16) * len(raws) > pages * PAGE:
            pages *= 2
        r = _perf_ring(pages, (pages * PAGE) // 2, [("s", v) for v in raws])
        rd = _reader(P.PerfBuffer)
        rd.lost, rd.lost_by_cpu, rd.lost_callback, rd.rings = 0, {}, None, {3: r}
    else:
        size = 1 << 20
        cons, prod = mmap.mmap(-1, PAGE), mmap.mmap(-1, PAGE + 2 * size)
        pos = start = size - 40 * (cls._rec_size + 8)
        for raw in raws:
            rec = struct.pack("<II", len(raw), 0) + raw
            rec += b"\0" * (-len(rec) % 8)
            for base in (PAGE, PAGE + size):
                q = base + pos % size
                n = min(len(rec), PAGE + size + (base - PAGE) - q)
                prod[q:q + n] = rec[:n]
                if n < len(rec):
                    prod[base:base + len(rec) - n] = rec[n:]
            pos += len(rec)
        struct.pack_into("<Q", cons, 0, start)
        struct.pack_into("<Q", prod, 0, pos)
        rd = _reader(R.RingBuffer)
        rd.rings = {5: (None, None, cons, prod, size - 1, 0, None)}
    got = rd.read_records(cls)
    assert got == want and [bytes(g) for g in got] == [bytes(w) for w in want]
    assert any(k[0] is cls for k in rd._runs)


def test_batches_leave_the_collector_as_they_found_it(layouts):
    """read_records() pauses the cyclic collector while it builds a batch, and leaves
    it on or off as it was (a decode that raises included)."""
    import gc
    cls = layouts[0]
    raw = bytes(cls._rec_size)
    was = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            rd = _reader(P.PerfBuffer)
            rd.lost, rd.lost_by_cpu, rd.lost_callback = 0, {}, None
            rd.rings = {3: _perf_ring(1, 0, [("s", raw)] * 3)}
            assert rd.read_records(cls) == [cls(raw)] * 3 and gc.isenabled() == enabled
            rd.rings = {3: _perf_ring(1, 0, [("s", raw)] * 3)}

            def bad(data):
                raise ValueError("no")
            with pytest.raises(ValueError):
                rd.read_records(bad)
            assert gc.isenabled() == enabled
    finally:
        (gc.enable if was else gc.disable)()
