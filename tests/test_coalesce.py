"""Wake-up coalescing (events/_reader.py): a reader switches from one epoll wake-up per
record to a nap of ``coalesce_ms`` between passes while records stream in, and back
when they stop -- with every record delivered once, in order, in both modes; a nap
that overfilled a ring makes the next ones shorter, and one that would overfill at the
shortest skips napping; several perf buffers of one BPF object share one epoll
(ReaderGroup) and coalesce the same way.  The kernel's own rings, no timing asserted:
``coalesce_ms`` is set large enough that the mode changes do not depend on speed."""
import os

from bcc_core.attach import auto as link
from bcc_core.events.perf_buffer import PerfBuffer
from bcc_core.events.ringbuf import RingBuffer
from bcc_core.load.loader import Object
from conftest import need_root
from test_events import EV, _open_paths

SLOW = 400.0        # ms: every burst of this test comes well within it


def _seqs(recs):
    return [EV.unpack(r[:EV.size])[1] for r in recs]


def _check_modes(rd, burst, got):
    """Drive reader ``rd`` (coalesce_ms = SLOW) through quiet -> stream -> quiet."""
    assert not rd._stream
    burst()
    assert rd.poll(1000) > 0 and not rd._stream     # first records: epoll, no stream yet
    burst()
    assert rd.poll(1000) > 0 and rd._stream         # again within coalesce_ms: a stream
    burst()
    burst()
    assert rd.poll(1000) > 1 and rd._stream         # a nap, then a batch: still one
    assert rd.poll(50) == 0 and not rd._stream      # nothing came: back to epoll
    burst()
    assert rd.poll(1000) > 0
    assert _seqs(got) == list(range(len(got)))      # each once, in order


def test_perf_buffer_coalesces_while_streaming(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    got = []
    with Object(bpf_obj("events"), rodata={"target_tgid": os.getpid(), "repeat": 8}) as o:
        with PerfBuffer(o.map("perf_events"), lambda cpu, d: got.append(bytes(d)),
                        page_cnt=8, coalesce_ms=SLOW) as pb, \
                link.attach_auto(o.program("on_openat")):
            _check_modes(pb, lambda: _open_paths([p]), got)
            # a nap that let the ring fill past an eighth: the next naps are shorter,
            # in proportion (half of what would have filled an eighth)
            pb._stream = True
            _open_paths([p] * 32)               # 8 x 32 records of 88 bytes: > 4 KiB
            pb.consume()
            fill = pb._fill
            assert fill > pb.FILL
            assert pb._nap(1) is True and pb._fill == 0
            assert abs(pb._nap_ms - SLOW * pb.FILL / fill / 2) < 1e-6
            # when even the shortest nap would overfill: back to epoll, no stream for
            # HOLD seconds however fast records come
            pb._nap_ms = pb.MIN_NAP_MS
            _open_paths([p] * 32)
            pb.consume()
            assert pb._fill > pb.FILL
            assert pb._nap(1000) is False and not pb._stream and pb._fill == 0
            for _ in range(2):
                _open_paths([p])
                assert pb.poll(1000) > 0 and not pb._stream
        assert _seqs(got) == list(range(len(got)))
    assert len(got) == 8 * (4 + 1 + 32 + 32 + 2)


def test_ring_buffer_coalesces_while_streaming(bpf_obj, tmp_path):
    need_root()
    p = str(tmp_path / "x")
    got = []
    with Object(bpf_obj("events"), rodata={"target_tgid": os.getpid(), "repeat": 8}) as o:
        rb = RingBuffer().add(o.map("ring_events"), lambda d: got.append(bytes(d)))
        rb.coalesce_ms = SLOW
        with rb, link.attach_auto(o.program("on_openat")):
            _check_modes(rb, lambda: _open_paths([p]), got)
            # the batch form goes through the same modes
            rb._stream = False
            _open_paths([p])
            batch = rb.read_records(timeout_ms=1000)
            _open_paths([p])
            batch += rb.read_records(timeout_ms=1000)
            assert rb._stream and _seqs(batch) == list(range(len(got), len(got) + 16))


def test_two_perf_buffers_share_one_coalescing_epoll(bpf_obj, tmp_path):
    """perf_buffer_poll over two perf buffers: one ReaderGroup; its first pass also
    reads what was written before its epoll existed (which that epoll never reports:
    a ring filled then would never wake it)."""
    need_root()
    from bcc_core import BPF
    p = str(tmp_path / "x")
    got = {"perf_events": [], "perf_more": []}
    with BPF(src_file=bpf_obj("events"), rodata={"target_tgid": os.getpid(), "repeat": 4,
                                                "both": 1}) as b:       # auto-attached
        for name in got:
            b[name].open_perf_buffer(
                lambda cpu, data, size, name=name: got[name].append(b[name].event(data).seq),
                coalesce_ms=SLOW)
        _open_paths([p])                    # before the first poll
        b.perf_buffer_poll(1000)
        assert len(got["perf_events"]) >= 4
        for _ in range(3):
            _open_paths([p])
            b.perf_buffer_poll(1000)
        group = b._perf_epoll[1]
        assert group._stream and len(group.rings) == 2 * len(b["perf_events"]._reader.rings)
        b.perf_buffer_poll(50)
        assert not group._stream
    seqs, more = got["perf_events"], got["perf_more"]   # perf_more was opened later
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))) and len(more) >= 16
    assert more == seqs[len(seqs) - len(more):]
