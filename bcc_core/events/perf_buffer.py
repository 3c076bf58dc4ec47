"""Perf event ring buffers (BPF_MAP_TYPE_PERF_EVENT_ARRAY readers) over mmap + epoll."""
import fcntl
import mmap
import os
import struct

from .. import _sys
from ._reader import EpollReader, record_maker
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


class _CpuRing:
    __slots__ = ("cpu", "fd", "mm", "size", "mask", "data_off", "view", "addr")

    def __init__(self, cpu, page_cnt):
        a = _sys.new_perf_attr()
        a.type = PERF_TYPE_SOFTWARE
        a.config = PERF_COUNT_SW_BPF_OUTPUT
        a.sample_type = PERF_SAMPLE_RAW
        a.sample_period = 1
        a.wakeup_events = 1
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
    """

    def __init__(self, perf_map, callback, lost_callback=None, page_cnt=64,
                 addresses=False):
        if page_cnt <= 0 or page_cnt & (page_cnt - 1):
            raise ValueError("page_cnt must be a power of two, got %d" % page_cnt)
        EpollReader.__init__(self)
        self.map = perf_map
        self.callback = callback
        self.lost_callback = lost_callback
        self.lost = 0
        self.lost_by_cpu = {}       # cpu -> samples the kernel reported lost there
        self.addresses = addresses
        self._scratch = None
        try:
            for cpu in online_cpus():
                if cpu >= perf_map.max_entries:
                    continue
                r = _CpuRing(cpu, page_cnt)
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
        for r in list(self.rings.values()):
            self._drain_into(r, out, decode)
        return out

    def _drain_into(self, r, out, decode):
        rec_new = record_maker(decode)
        if rec_new is not None:
            return self._drain_records(r, out, decode, *rec_new)
        return self._drain_generic(r, out, decode)

    def _drain_generic(self, r, out, decode):
        mm = r.mm
        head = _u64.unpack_from(mm, 1024)[0]
        tail = _u64.unpack_from(mm, 1032)[0]
        if head == tail:
            return
        size, mask, base = r.size, r.mask, r.data_off
        sample, append = _sample.unpack_from, out.append
        try:
            while tail < head:
                off = tail & mask
                pos = base + off
                if off + 12 <= size:
                    etype, misc, esize, raw = sample(mm, pos)
                    if esize < 8:
                        break
                    if etype == PERF_RECORD_SAMPLE and off + esize <= size:
                        tail += esize               # past it, even if decode raises
                        append(decode(mm[pos + 12:pos + 12 + raw]))
                        continue
                else:
                    etype, misc, esize = _hdr.unpack(self._wrap(mm, base, off, 8, size))
                    if esize < 8:
                        break
                rec = mm[pos:pos + esize] if off + esize <= size else \
                    self._wrap(mm, base, off, esize, size)
                tail += esize
                if etype == PERF_RECORD_SAMPLE:
                    append(decode(bytes(rec[12:12 + _u32.unpack_from(rec, 8)[0]])))
                elif etype == PERF_RECORD_LOST:
                    cnt = _u64.unpack_from(rec, 16)[0]
                    self.lost += cnt
                    self.lost_by_cpu[r.cpu] = self.lost_by_cpu.get(r.cpu, 0) + cnt
                    if self.lost_callback is not None:
                        self.lost_callback(r.cpu, cnt)
        finally:        # what was read is released even if decode raised
            _u64.pack_into(mm, 1032, head if tail > head else tail)

    def _drain_records(self, r, out, cls, size, fields, new):
        """_drain_into for a struct_view record class, its construction inlined (the
        batch's hot loop: no Python call per record)."""
        mm = r.mm
        head = _u64.unpack_from(mm, 1024)[0]
        tail = _u64.unpack_from(mm, 1032)[0]
        rsize, mask, base = r.size, r.mask, r.data_off
        sample, append = _sample.unpack_from, out.append
        rest = False
        try:
            while tail < head:
                off = tail & mask
                pos = base + off
                if off + 12 <= rsize:
                    etype, misc, esize, raw = sample(mm, pos)
                    if etype == PERF_RECORD_SAMPLE and esize >= 8 and \
                            off + esize <= rsize and raw >= size:
                        tail += esize
                        data = mm[pos + 12:pos + 12 + raw]
                        append(new(cls, (data,) + fields(data)))
                        continue
                rest = True     # wrapped, short, lost or corrupt: the general path
                break
        finally:
            _u64.pack_into(mm, 1032, head if tail > head else tail)
        if rest:
            self._drain_generic(r, out, cls)

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
        cb, lcb, cpu = self.callback, self.lost_callback, r.cpu
        addr = r.addr + 12          # + pos: a sample's data, in address mode
        by_addr = self.addresses
        n = 0
        sample = _sample.unpack_from
        while tail < head:
            off = tail & mask
            pos = base + off
            if off + 12 <= size:
                # fast path: header and sample size contiguous (nearly every record)
                etype, misc, esize, raw = sample(mm, pos)
                if esize < 8:
                    break   # corrupt; resync by skipping everything
                if etype == PERF_RECORD_SAMPLE and off + esize <= size:
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
                cnt = _u64.unpack_from(rec, 16)[0]
                self.lost += cnt
                self.lost_by_cpu[cpu] = self.lost_by_cpu.get(cpu, 0) + cnt
                if lcb is not None:
                    lcb(cpu, cnt)
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
