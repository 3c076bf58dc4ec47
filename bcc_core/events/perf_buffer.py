"""Perf event ring buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY readers) over mmap + epoll."""
import fcntl
import mmap
import os
import struct

from .. import _sys
from ._reader import EpollReader, record_maker
from .batch import RunDecoders, RunLookup, deferred_gc, same_fields
from ..errors import BccCoreError
from .._sys import PERF_EVENT_IOC_DISABLE, PERF_EVENT_IOC_ENABLE, PERF_FLAG_FD_CLOEXEC

PERF_TYPE_SOFTWARE = 1
PERF_COUNT_SW_BPF_OUTPUT = 10
PERF_SAMPLE_RAW = 1 << 10
PERF_RECORD_LOST = 2
PERF_RECORD_SAMPLE = 9
PAGE = mmap.PAGESIZE

_u64 = struct.Struct("<Q")
_hdr = struct.Struct("<IHH")
_u32 = struct.Struct("<I")
_u16 = struct.Struct("<H")
_sample = struct.Struct("<IHHI")     # perf_event_header + the sample's u32 size


def online_cpus():
    with open("/sys/devices/system/cpu/online") as f:
        spec = f.read().strip()
    out = []
    for part in spec.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def _sample_run(view, k, esize, raw):
    """Whether the ``k`` records of ``esize`` bytes in ``view`` are all samples of
    ``raw`` bytes of data."""
    return same_fields(view, k, esize, (("I", 0, _u32.pack(PERF_RECORD_SAMPLE)),
                                        ("H", 6, _u16.pack(esize)), ("I", 8, _u32.pack(raw))))


class _CpuRing:
    __slots__ = ("cpu", "fd", "mm", "size", "mask", "data_off", "view", "addr")

    def __init__(self, cpu, page_cnt, wakeup_events=1):
        a = _sys.new_perf_attr()
        a.type = PERF_TYPE_SOFTWARE
        a.config = PERF_COUNT_SW_BPF_OUTPUT
        a.sample_type = PERF_SAMPLE_RAW
        a.sample_period = 1
        a.wakeup_events = wakeup_events
        self.cpu = cpu
        self.fd = _sys.perf_event_open(a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC,
                                       what="perf buffer on cpu %d" % cpu)
        try:
            self.size = page_cnt * PAGE
            self.mm = mmap.mmap(self.fd, self.size + PAGE, mmap.MAP_SHARED,
                                mmap.PROT_READ | mmap.PROT_WRITE)
        except BaseException:
            os.close(self.fd)
            raise
        self.mask = self.size - 1
        self.data_off = PAGE
        self.view = None
        self.addr = 0

    def map_address(self):
        """The mapping's address, for callbacks that take a pointer into the ring."""
        self.addr, self.view = _sys.buffer_address(self.mm)

    def close(self):
        try:
            fcntl.ioctl(self.fd, PERF_EVENT_IOC_DISABLE, 0)
        except OSError:
            pass
        _sys.release_buffer(self.view)      # the export that pins the mapping
        self.view = None
        try:
            self.mm.close()
        except (BufferError, ValueError):
            pass
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __del__(self):          # dropped without close(): the perf event fd goes too
        try:
            if self.fd >= 0:
                self.close()
        except Exception:
            pass


class PerfBuffer(EpollReader):
    """Reads a perf event array: one ring per online CPU.

    ``callback(cpu, data)`` gets each sample's raw bytes; ``lost_callback(cpu, count)``
    each lost-samples record.  ``page_cnt`` (a power of two) pages per CPU, like BCC.

    With ``addresses=True`` the callback is ``callback(cpu, addr, size)`` instead, as
    libbpf's and BCC's: ``addr`` points at the sample in the ring itself (no copy) and
    is valid only until the callback returns.

    ``wakeup_events``: samples per wake-up, as perf_event_attr's (BCC's default 1);
    ``coalesce_ms``: see :class:`EpollReader` (None: its default).
    """

    def __init__(self, perf_map, callback, lost_callback=None, page_cnt=64,
                 addresses=False, wakeup_events=1, coalesce_ms=None):
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise ValueError("page_cnt must be a power of two, got %d" % page_cnt)
        if wakeup_events < 1:
            raise ValueError("wakeup_events must be at least 1, got %d" % wakeup_events)
        EpollReader.__init__(self)
        if coalesce_ms is not None:
            self.coalesce_ms = coalesce_ms
        self.map = perf_map
        self.callback = callback
        self.lost_callback = lost_callback
        self.lost = 0
        self.lost_by_cpu = {}       # cpu -> samples the kernel reported lost there
        self.addresses = addresses
        self._scratch = None
        self._runs = RunDecoders()
        self.lookup = RunLookup(self._runs)     # runs decoded for event(): _call_run
        try:
            for cpu in online_cpus():
                if cpu >= perf_map.max_entries:
                    continue
                r = _CpuRing(cpu, page_cnt, wakeup_events)
                self._watch(r.fd, r)
                if addresses:
                    r.map_address()
                perf_map.update(cpu, r.fd.to_bytes(4, "little"))
                fcntl.ioctl(r.fd, PERF_EVENT_IOC_ENABLE, 0)
        except BaseException:
            self.close()
            raise

    def read_batch(self, max_records=None):
        """All pending samples as a list of (cpu, bytes), bypassing the callback."""
        from .. import _sys
        out = []
        saved = self.callback
        if self.addresses:
            ffi = _sys.ffi
            self.callback = lambda cpu, addr, n: out.append(
                (cpu, ffi.buffer(ffi.cast("char *", addr), n)[:]))
        else:
            self.callback = lambda cpu, data: out.append((cpu, data))
        try:
            self.consume()
        finally:
            self.callback = saved
        return out

    def read_records(self, decode=bytes, timeout_ms=0):
        """Wait up to ``timeout_ms`` (-1: forever, 0: not at all) for data, then return
        every pending sample, decoded by ``decode(bytes)``, as one list (each CPU's in
        order) -- the batch form of the callbacks, with no Python call per record but
        ``decode``'s.  Lost-sample records are counted in ``self.lost`` and passed to
        ``lost_callback``."""
        out = []
        if not self._wait(timeout_ms):
            return out
        with deferred_gc():
            for r in list(self.rings.values()):
                self._drain_into(r, out, decode)
        self._passed(len(out))
        return out

    def _drain_into(self, r, out, decode):
        """Append every pending record of ring ``r``, decoded, to ``out``: each run of
        equal samples at once (:mod:`.batch`), the rest record by record."""
        mm = r.mm
        head = _u64.unpack_from(mm, 1024)[0]
        tail = _u64.unpack_from(mm, 1032)[0]
        rsize, mask, base = r.size, r.mask, r.data_off
        fill = (head - tail) / rsize    # for the coalescing nap (EpollReader)
        if fill > self._fill:
            self._fill = fill
        maker = record_maker(decode)
        rec_size, fields, new = maker or (1 << 62, None, None)
        sample, append = _sample.unpack_from, out.append
        cap = 1 << 62               # the longest run to try (halved when one was not)
        try:
            while tail < head:
                off = tail & mask
                pos = base + off
                if off + 12 <= rsize:
                    etype, misc, esize, raw = sample(mm, pos)
                    if etype == PERF_RECORD_SAMPLE and 16 <= esize and 12 + raw <= esize:
                        k = min((head - tail) // esize, (rsize - off) // esize, cap)
                        if k > 1:
                            n0 = len(out)
                            try:
                                run = self._run(mm, pos, k, esize, raw, out, decode)
                            except BaseException:   # decode failed: past that record
                                tail += (len(out) - n0 + 1) * esize
                                raise
                            if run:
                                tail += k * esize
                                cap = cap * 2
                                continue
                            cap = max(2, k // 2)
                        if off + esize <= rsize:        # one sample, contiguous
                            tail += esize               # past it, even if decode raises
                            append(new(decode, fields(mm, pos + 12)) if raw >= rec_size
                                   else decode(mm[pos + 12:pos + 12 + raw]))
                            continue
                    elif esize < 8:
                        break       # corrupt: give up on the rest
                else:
                    etype, misc, esize = _hdr.unpack(self._wrap(mm, base, off, 8, rsize))
                    if esize < 8:
                        break
                rec = mm[pos:pos + esize] if off + esize <= rsize else \
                    self._wrap(mm, base, off, esize, rsize)
                tail += esize
                if etype == PERF_RECORD_SAMPLE:
                    append(decode(bytes(rec[12:12 + _u32.unpack_from(rec, 8)[0]])))
                elif etype == PERF_RECORD_LOST:
                    self._count_lost(r.cpu, _u64.unpack_from(rec, 16)[0])
        finally:        # what was read is released even if decode raised
            _u64.pack_into(mm, 1032, head if tail > head else tail)

    def _run(self, mm, pos, k, esize, raw, out, decode):
        """Decode the ``k`` samples of ``esize`` bytes at ``pos`` if they are a run
        (same type, size, data size): True when they were."""
        with memoryview(mm) as whole, whole[pos:pos + k * esize] as view:
            if not _sample_run(view, k, esize, raw):
                return False
            self._runs.get_decoder(decode, esize, 12, raw).extend(out, view)
        return True

    def _call_run(self, r, tail, pos, k, esize, raw):
        """Address mode: hand the ``k`` samples at ``pos`` to the callback if they are a
        run (see _run), with their records decoded beforehand for the callback's
        event() when ``lookup`` says so (:class:`.batch.RunLookup`).  True when they
        were a run."""
        mm = r.mm
        with memoryview(mm) as whole, whole[pos:pos + k * esize] as view:
            if not _sample_run(view, k, esize, raw):
                return False
            start = r.addr + pos + 12
            addrs = range(start, start + k * esize, esize)
            lookup = self.lookup
            d = lookup.begin(view, addrs, esize, 12, raw)
        cb, cpu, a = self.callback, r.cpu, start
        try:
            for a in addrs:
                cb(cpu, a, raw)
        except BaseException:
            _u64.pack_into(mm, 1032, tail + ((a - start) // esize + 1) * esize)
            raise
        finally:
            lookup.end(d, k)
        return True

    def _count_lost(self, cpu, cnt):
        self.lost += cnt
        self.lost_by_cpu[cpu] = self.lost_by_cpu.get(cpu, 0) + cnt
        if self.lost_callback is not None:
            self.lost_callback(cpu, cnt)

    def _deliver(self, cpu, data):
        """A sample that wrapped around the ring's end, as bytes: copied to a scratch
        buffer first when the callback takes addresses."""
        if not self.addresses:
            return self.callback(cpu, data)
        from .. import _sys
        ffi = _sys.ffi
        n = len(data)
        if self._scratch is None or ffi.sizeof(self._scratch) < n:
            self._scratch = ffi.new("char[]", max(n, 256))
        ffi.memmove(self._scratch, data, n)
        return self.callback(cpu, int(ffi.cast("uintptr_t", self._scratch)), n)

    def _drain(self, r):
        mm = r.mm
        head = _u64.unpack_from(mm, 1024)[0]
        tail = _u64.unpack_from(mm, 1032)[0]
        if head == tail:
            return 0
        size, mask, base = r.size, r.mask, r.data_off
        fill = (head - tail) / size     # for the coalescing nap (EpollReader)
        if fill > self._fill:
            self._fill = fill
        cb, cpu = self.callback, r.cpu
        addr = r.addr + 12          # + pos: a sample's data, in address mode
        by_addr = self.addresses
        n = 0
        sample = _sample.unpack_from
        cap = (1 << 62) if by_addr else 0   # the longest run to try (see _call_run)
        while tail < head:
            off = tail & mask
            pos = base + off
            if off + 12 <= size:
                # fast path: header and sample size contiguous (nearly every record)
                etype, misc, esize, raw = sample(mm, pos)
                if esize < 8:
                    break   # corrupt; resync by skipping everything
                if etype == PERF_RECORD_SAMPLE and off + esize <= size:
                    k = min((head - tail) // esize, (size - off) // esize, cap, 512)
                    if k > 1 and 16 <= esize and 12 + raw <= esize:
                        if self._call_run(r, tail, pos, k, esize, raw):
                            tail += k * esize
                            n += k
                            cap = cap * 2
                            continue
                        cap = max(2, k // 2)
                    try:
                        if by_addr:
                            cb(cpu, addr + pos, raw)
                        else:
                            cb(cpu, mm[pos + 12:pos + 12 + raw])
                    except BaseException:
                        _u64.pack_into(mm, 1032, tail + esize)
                        raise
                    tail += esize
                    n += 1
                    continue
            else:
                etype, misc, esize = _hdr.unpack(self._wrap(mm, base, off, 8, size))
                if esize < 8:
                    break
            if off + esize <= size:
                rec = mm[pos:pos + esize]
            else:
                rec = self._wrap(mm, base, off, esize, size)
            if etype == PERF_RECORD_SAMPLE:
                raw = _u32.unpack_from(rec, 8)[0]
                try:
                    self._deliver(cpu, rec[12:12 + raw])
                except BaseException:
                    _u64.pack_into(mm, 1032, tail + esize)
                    raise
            elif etype == PERF_RECORD_LOST:
                self._count_lost(cpu, _u64.unpack_from(rec, 16)[0])
            tail += esize
            n += 1
        _u64.pack_into(mm, 1032, head if tail > head else tail)
        return n

    @staticmethod
    def _wrap(mm, base, off, length, size):
        first = size - off
        return mm[base + off:base + size] + mm[base:base + length - first]

    def close(self):
        for r in self.rings.values():
            try:
                self.map.delete(r.cpu)
            except (KeyError, OSError, BccCoreError):
                pass
            r.close()
        self._close_epoll()
