"""BPF ring buffer (BPF_MAP_TYPE_RINGBUF) consumer over mmap + epoll."""
import mmap
import struct

from .. import _sys
from ._reader import EpollReader, record_maker
from .batch import RunDecoders, RunLookup, deferred_gc, same_fields

PAGE = mmap.PAGESIZE
BUSY = 1 << 31
DISCARD = 1 << 30
HDR = 8

_u64 = struct.Struct("<Q")
_u32 = struct.Struct("<I")


class RingBuffer(EpollReader):
    """Consumes one or more ring buffer maps; ``add(map, callback)`` per map.
    ``callback(data)`` gets each record's bytes; a non-zero int return stops the poll.

    With ``addresses=True`` the callback is ``callback(addr, size)``, as libbpf's:
    ``addr`` points at the record in the ring (valid until the callback returns), and
    a negative int return stops the poll (anything else, None included, goes on)."""

    def __init__(self, addresses=False):
        EpollReader.__init__(self)
        self.addresses = addresses
        self._views = []
        self._runs = RunDecoders()

    def add(self, ring_map, callback):
        size = ring_map.max_entries
        cons = mmap.mmap(ring_map.fd, PAGE, mmap.MAP_SHARED,
                         mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        try:
            prod = mmap.mmap(ring_map.fd, PAGE + 2 * size, mmap.MAP_SHARED, mmap.PROT_READ,
                             offset=PAGE)
        except BaseException:
            cons.close()
            raise
        addr = 0
        if self.addresses:
            addr, pin = _sys.buffer_address(prod)
            self._views.append(pin)
        self._watch(ring_map.fd, (ring_map, callback, cons, prod, size - 1, addr,
                                  RunLookup(self._runs)))
        return self

    def lookup(self, ring_map):
        """The RunLookup of ``ring_map``'s callbacks (address mode: runs of records
        decoded for their event() calls, see :class:`.batch.RunLookup`)."""
        return self.rings[ring_map.fd][6]

    def _drain(self, ring):
        if self.addresses:
            return self._drain_addr(ring)
        _, cb, cons, prod, mask, _, _ = ring
        cpos = _u64.unpack_from(cons, 0)[0]
        n = 0
        self._filled(_u64.unpack_from(prod, 0)[0] - cpos, mask)
        while True:
            ppos = _u64.unpack_from(prod, 0)[0]
            if cpos >= ppos:
                break
            while cpos < ppos:
                off = (cpos & mask) + PAGE
                hdr = _u32.unpack_from(prod, off)[0]
                if hdr & BUSY:
                    _u64.pack_into(cons, 0, cpos)
                    return n
                length = hdr & ~(BUSY | DISCARD)
                step = (length + HDR + 7) & ~7
                if not hdr & DISCARD:
                    # data is mapped twice in a row, so a record never wraps
                    data = prod[off + HDR:off + HDR + length]
                    cpos += step
                    _u64.pack_into(cons, 0, cpos)
                    n += 1
                    if cb(data):
                        return n
                else:
                    cpos += step
                    _u64.pack_into(cons, 0, cpos)
        return n

    def read_records(self, decode=bytes, timeout_ms=0):
        """Wait up to ``timeout_ms`` (-1: forever, 0: not at all), then return every
        committed record of every ring, decoded by ``decode(bytes)``, as one list; the
        consumer position advances once per ring per batch.  {map name: list} is not
        kept: records of several maps come in ring order, one map after the other.
        Runs of records of one size are decoded at once (:mod:`.batch`)."""
        out = []
        if not self._wait(timeout_ms):
            return out
        with deferred_gc():
            for _, _, cons, prod, mask, _, _ in list(self.rings.values()):
                self._read_ring(cons, prod, mask, out, decode)
        self._passed(len(out))
        return out

    def _read_ring(self, cons, prod, mask, out, decode):
        append, u32 = out.append, _u32.unpack_from
        size, fields, new = record_maker(decode) or (1 << 62, None, None)
        cpos = _u64.unpack_from(cons, 0)[0]
        ppos = _u64.unpack_from(prod, 0)[0]
        self._filled(ppos - cpos, mask)
        cap = 1 << 62               # the longest run to try (halved when one was not)
        try:
            while cpos < ppos:
                off = (cpos & mask) + PAGE
                hdr = u32(prod, off)[0]
                if hdr & BUSY:
                    break
                length = hdr & ~(BUSY | DISCARD)
                step = (length + HDR + 7) & ~7
                if not hdr & DISCARD:
                    k = min((ppos - cpos) // step, cap)
                    if k > 1:
                        n0 = len(out)
                        try:
                            run = self._run(prod, off, k, step, hdr, out, decode)
                        except BaseException:       # decode failed: past that record
                            cpos += (len(out) - n0 + 1) * step
                            raise
                        if run:
                            cpos += k * step
                            cap = cap * 2
                            continue
                        cap = max(2, k // 2)
                cpos += step                # past it, even if decode raises
                if not hdr & DISCARD:
                    # data is mapped twice in a row, so a record never wraps
                    append(new(decode, fields(prod, off + HDR)) if length >= size
                           else decode(prod[off + HDR:off + HDR + length]))
        finally:
            _u64.pack_into(cons, 0, cpos)

    def _run(self, prod, off, k, step, hdr, out, decode):
        """Decode the ``k`` records of ``step`` bytes at ``off`` if each has header
        ``hdr`` (committed, same length): True when they had."""
        with memoryview(prod) as whole, whole[off:off + k * step] as view:
            if not same_fields(view, k, step, (("I", 0, _u32.pack(hdr)),)):
                return False
            self._runs.get_decoder(decode, step, HDR, hdr).extend(out, view)
        return True

    def _drain_addr(self, ring):
        _, cb, cons, prod, mask, addr, lookup = ring
        cpos = _u64.unpack_from(cons, 0)[0]
        n = 0
        u32 = _u32.unpack_from
        self._filled(_u64.unpack_from(prod, 0)[0] - cpos, mask)
        cap = 1 << 62               # the longest run to try (halved when one was not)
        while True:
            ppos = _u64.unpack_from(prod, 0)[0]
            if cpos >= ppos:
                break
            while cpos < ppos:
                off = (cpos & mask) + PAGE
                hdr = u32(prod, off)[0]
                if hdr & BUSY:
                    _u64.pack_into(cons, 0, cpos)
                    return n
                length = hdr & ~(BUSY | DISCARD)
                step = (length + HDR + 7) & ~7
                if not hdr & DISCARD:
                    k = min((ppos - cpos) // step, cap, 512)
                    if k > 1:
                        done = self._call_run(cons, prod, lookup, cb, addr, off, k, step,
                                              hdr, cpos)
                        if done is not None:
                            cpos += done * step
                            n += done
                            if done < k:        # the callback asked to stop
                                _u64.pack_into(cons, 0, cpos)
                                return n
                            cap = cap * 2
                            continue
                        cap = max(2, k // 2)
                cpos += step
                if not hdr & DISCARD:
                    n += 1
                    try:
                        ret = cb(addr + off + HDR, length)
                    except BaseException:
                        _u64.pack_into(cons, 0, cpos)
                        raise
                    if ret is not None and _negative(ret):
                        _u64.pack_into(cons, 0, cpos)
                        return n
            # released only after the callbacks: the records stay put while in use
            _u64.pack_into(cons, 0, cpos)
        return n

    def _call_run(self, cons, prod, lookup, cb, addr, off, k, step, hdr, cpos):
        """Address mode: hand the ``k`` records of ``step`` bytes at ``off`` to the
        callback if each has header ``hdr`` (committed, same length), their records
        decoded beforehand for event() when ``lookup`` says so.  Returns how many
        were handed (fewer than ``k``: the callback asked to stop), None when they
        were not a run."""
        length = hdr & ~(BUSY | DISCARD)
        with memoryview(prod) as whole, whole[off:off + k * step] as view:
            if not same_fields(view, k, step, (("I", 0, _u32.pack(hdr)),)):
                return None
            start = addr + off + HDR
            addrs = range(start, start + k * step, step)
            d = lookup.begin(view, addrs, step, HDR, length)
        a = start
        try:
            for a in addrs:
                ret = cb(a, length)
                if ret is not None and _negative(ret):
                    return (a - start) // step + 1
        except BaseException:
            _u64.pack_into(cons, 0, cpos + ((a - start) // step + 1) * step)
            raise
        finally:
            lookup.end(d, k)
        return k

    def _filled(self, pending, mask):
        """Note how full a ring is (for the coalescing nap: EpollReader)."""
        fill = pending / (mask + 1)
        if fill > self._fill:
            self._fill = fill

    def close(self):
        for pin in self._views:     # the exports that pin the mappings
            _sys.release_buffer(pin)
        self._views = []
        for _, _, cons, prod, _, _, _ in self.rings.values():
            for m in (cons, prod):
                try:
                    m.close()
                except (BufferError, ValueError):
                    pass
        self._close_epoll()


def _negative(ret):
    try:
        return int(ret) < 0
    except (TypeError, ValueError):
        return False
