"""The tables of perf event arrays and ring buffers: records handed to a callback,
decoded by event() as the C struct of the object's BTF; perf counters opened on every
CPU (open_perf_event)."""
import errno
import os
import sys
# the C half of functools (functools itself pulls in collections...: see table.py)
try:
    from _functools import partial
except ImportError:     # not CPython
    from functools import partial

from ..errors import BccCoreError
from ..utils import get_online_cpus
from .lazy_ctypes import ct
from .table_base import ArrayBase, TableBase


def _run_callback(fn, *args):
    """Call a user's event callback.  When it fails writing to a closed pipe (the tool's
    output piped into ``head``...) the program ends quietly instead of raising."""
    try:
        return fn(*args)
    except IOError as e:
        if e.errno != errno.EPIPE:
            raise
        raise SystemExit()


class _EventDecoder(object):
    """event(data) support shared by PerfEventArray and RingBuf: the C struct comes from
    the object's BTF (see BPF.event_type / get_table(leaftype=...)); callbacks get the
    record's address in the ring (valid during the callback, as in BCC)."""

    def event(self, data):
        """event(data)

        Decode a perf/ring buffer record (the ``data`` a callback got) as the C struct
        the BPF program submits; see :meth:`bcc_core.bpf.BPF.event_type` for how that
        struct is found."""
        cls = self._event_class
        if cls is None:
            cls = self.set_event_type(self.bpf._event_class_for(self))
        if type(data) is int and data:  # what callbacks get: the record's address
            decoded = self._decoded()
            if decoded is not None:     # the reader decoded this run beforehand
                rec = decoded.pop(data, None)
                if rec is not None:
                    return rec
            return cls.from_address(data)
        if isinstance(data, (bytes, bytearray, memoryview)):
            return cls.from_buffer_copy(data)
        return cls.from_address(ct.cast(data, ct.c_void_p).value)   # a ctypes pointer

    def event_dict(self, data):
        """event_dict(data)

        The record as plain data for JSON: a dict of its fields as the object's BTF
        types them (strings, lists, nested dicts, enumerators by name, inet addresses
        as text: see :mod:`bcc_core.btf.values`).  A ctypes event type (set with
        set_event_type) gives its fields the same way."""
        return self.record_dict(self.event(data))

    def record_dict(self, rec):
        """record_dict(event)

        A record event() gave, as event_dict() gives it."""
        cls = type(rec)
        dec = self.__dict__.get("_dict_decoders", {}).get(cls)
        if dec is None:             # once per record class: the per-event path is a call
            from ..btf.values import ctypes_value, decoder
            info = getattr(cls, "_rec_btf", None)
            dec = (lambda r, d=decoder(*info): d(bytes(r))) if info else ctypes_value
            self.__dict__.setdefault("_dict_decoders", {})[cls] = dec
        return dec(rec)

    def _decoder(self, raw):
        if raw:
            return bytes
        cls = self._event_class
        if cls is None:
            cls = self._event_class = self.bpf._event_class_for(self)
        from ..events.struct_view import Record
        return cls if isinstance(cls, type) and issubclass(cls, Record) else \
            cls.from_buffer_copy

    def records(self, timeout=None, raw=False, **open_kw):
        """Iterate over the records the BPF program submits, decoded as event() does
        (``raw=True``: their bytes), a batch per wake-up: ``for ev in
        b["events"].records(): ...``.  Waits forever, or with ``timeout`` (ms) stops
        after a wait of that long that brought nothing.  The buffer is opened on first
        use (``open_kw``: open_perf_buffer's page_cnt, lost_cb) unless it is already."""
        while True:
            batch = self.read_records(-1 if timeout is None else timeout, raw, **open_kw)
            if not batch and timeout is not None:
                return
            yield from batch

    def set_event_type(self, cls):
        """Decode event(data) as ``cls``: a struct name in the BTF (a
        :mod:`bcc_core.events.struct_view` record) or a ctypes type (a ctypes structure at the
        record's address, as BCC's event() returns)."""
        if isinstance(cls, (str, bytes)):
            cls = self.bpf._event_class_for(self, cls)
        self._event_class = cls
        lookup = self._lookup()
        if lookup is not None:
            from ..events.struct_view import Record
            lookup.predecode = cls if isinstance(cls, type) and issubclass(cls, Record) \
                else None
        return cls

    def _lookup(self):
        """The callback reader's RunLookup of this table (None: no callbacks open)."""
        return None

    def _decoded(self):
        lookup = self._lookup()
        return lookup.decoded if lookup is not None else None

    def _on_run(self, lookup):
        """While a reader hands a decoded run to the callback, event is ``lookup``
        (address -> record, in C); after it, the method again."""
        if lookup is None:
            self.__dict__.pop("event", None)
        else:
            self.event = lookup

    def _bind_runs(self, lookup):
        """Let ``lookup`` (the reader's RunLookup for this table) bind event during
        runs, and resolve the record class now, not at the first event (records flow
        by then)."""
        # any other address goes the long way: the method
        lookup.bind(self._on_run, partial(type(self).event, self))
        try:
            self.set_event_type(self._event_class or self.bpf._event_class_for(self))
        except Exception:
            pass        # named later (set_event_type), or never (ctypes casts)


class PerfEventArray(_EventDecoder, TableBase):
    """BPF_MAP_TYPE_PERF_EVENT_ARRAY: per-CPU perf buffers or perf counters."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_class = None
        self._reader = None
        self._open_key_fds = {}     # cpu -> perf event fd (-1: owned by the reader)

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def close(self):
        """Free the perf buffer / perf events opened on this table."""
        for cpu in list(self._open_key_fds):
            del self[cpu]

    def __len__(self):
        return self.max_entries

    def __iter__(self):
        return ArrayBase.Iter(self, self.Key)

    def __delitem__(self, key):
        if not isinstance(key, int):     # a ctypes int
            key = key.value
        if key not in self._open_key_fds:
            return
        fd = self._open_key_fds.pop(key)
        if fd == -1:
            # opened for the perf ring buffer: the reader owns every cpu's fd
            if not any(v == -1 for v in self._open_key_fds.values()) and \
                    self._reader is not None:
                r = self._reader
                self._reader = None
                self.bpf._remove_perf_reader(r)
                r.close()
                self._cbs.clear()
        else:
            try:
                self.map.delete(key)
            except (KeyError, OSError, BccCoreError):
                pass
            os.close(fd)

    def open_perf_buffer(self, callback, page_cnt=8, lost_cb=None, wakeup_events=1,
                         coalesce_ms=None):
        """open_perf_buffer(callback, page_cnt=8, lost_cb=None, wakeup_events=1)

        Start receiving the records the BPF program writes to this map with
        bpf_perf_event_output: one buffer of ``page_cnt`` pages (a power of two) per
        CPU.  BPF.perf_buffer_poll() then calls ``callback(cpu, data, size)`` for each
        record and ``lost_cb(count)`` when records were dropped; without a
        ``lost_cb``, drops are reported on stderr as BCC does ("Possibly lost N
        samples").  ``wakeup_events``: records per wake-up, as in BCC.

        While records stream in faster than one per ``coalesce_ms`` (default 1 ms),
        the poll gathers them for up to that long between passes instead of waking
        per record; ``coalesce_ms=0`` turns that off (see
        :class:`bcc_core.events._reader.EpollReader`).
        """
        if page_cnt & (page_cnt - 1):
            raise Exception("Perf buffer page_cnt must be a power of two")
        from ..events.perf_buffer import PerfBuffer
        # the callback gets the record's address in the ring (valid during the call, as
        # in BCC); a callback's EPIPE is turned into SystemExit by perf_buffer_poll
        raw_cb_ = callback

        if lost_cb is not None:
            def lost_cb_(cpu, lost):
                _run_callback(lost_cb, lost)
        else:
            def lost_cb_(cpu, lost):
                sys.stderr.write("Possibly lost %d samples\n" % lost)

        try:
            reader = PerfBuffer(self.map, raw_cb_, lost_cb_, page_cnt, addresses=True,
                                wakeup_events=wakeup_events, coalesce_ms=coalesce_ms)
        except OSError as e:
            raise Exception("Could not open perf buffer: %s" % e) from e
        self._reader = reader
        # runs of records decoded beforehand are looked up by event() with no Python
        # frame of ours (events.batch.RunLookup)
        self._bind_runs(reader.lookup)
        self.bpf._add_perf_reader(reader)
        for r in reader.rings.values():
            self._open_key_fds[r.cpu] = -1
            self._cbs[r.cpu] = (raw_cb_, lost_cb_)

    def _lookup(self):
        r = self._reader
        return r.lookup if r is not None else None

    def read_records(self, timeout=0, raw=False, **open_kw):
        """The batch form of the callbacks: wait up to ``timeout`` ms (-1: forever,
        0: not at all), then return every pending record as a list, decoded as
        event() does (``raw=True``: bytes); see records()."""
        if self._reader is None:
            self.open_perf_buffer(lambda cpu, data, size: None, **open_kw)
        return self._reader.read_records(self._decoder(raw), timeout)

    def _open_perf_event(self, cpu, typ, config):
        from .. import _sys
        from .._sys import PERF_EVENT_IOC_ENABLE, PERF_FLAG_FD_CLOEXEC
        import fcntl
        a = _sys.new_perf_attr()
        a.type = typ
        a.config = config
        try:
            fd = _sys.perf_event_open(a, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC,
                                      what="perf event %d/%d on cpu %d" % (typ, config, cpu))
        except OSError as e:
            # BCC's scripts test ctypes.get_errno() after a failure (ENOENT: the
            # hardware event does not exist here), as libbcc's call leaves it
            import ctypes
            ctypes.set_errno(e.errno or 0)
            raise
        fcntl.ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)
        self.map.update(cpu, fd.to_bytes(4, "little"))
        self._open_key_fds[cpu] = fd

    def open_perf_event(self, typ, config):
        """open_perf_event(typ, config)

        Open perf counter (``typ``, ``config``) on every online CPU and store it in this
        map, so that the BPF program can read the current CPU's counter with
        ``perf_read``/bpf_perf_event_read.
        """
        for cpu in get_online_cpus():
            self._open_perf_event(cpu, typ, config)


class RingBuf(_EventDecoder, TableBase):
    """BPF_MAP_TYPE_RINGBUF: read with open_ring_buffer() and BPF.ring_buffer_poll()."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._event_class = None
        self._ringbuf = None
        self._cb_lookup = None      # the callbacks' RunLookup (open_ring_buffer)

    def __del__(self):
        pass

    def _lookup(self):
        return self._cb_lookup

    def __len__(self):
        return 0

    def __iter__(self):
        return iter(())

    def open_ring_buffer(self, callback, ctx=None):
        """open_ring_buffer(callback, ctx=None)

        Start receiving the records the BPF program submits to this ring buffer:
        BPF.ring_buffer_poll() calls ``callback(ctx, data, size)`` for each one.  What
        the callback returns is handed to the reader as an int; a return value that is
        not a number (None, typically) counts as 0.
        """
        ringbuf_cb_ = partial(callback, ctx)   # (addr, size): see RingBuffer

        self.bpf._open_ring_buffer(self.map, ringbuf_cb_, ctx)
        self._cbs[0] = ringbuf_cb_      # held here for as long as the table lives
        # runs of records decoded beforehand, looked up by event() in C (as perf's)
        self._cb_lookup = self.bpf._ringbuf_manager.lookup(self.map)
        self._bind_runs(self._cb_lookup)

    def read_records(self, timeout=0, raw=False):
        """The batch form of the callback: wait up to ``timeout`` ms (-1: forever, 0:
        not at all), then every committed record as a list, decoded as event() does
        (``raw=True``: bytes), the consumer position advanced once per batch."""
        if self._ringbuf is None:
            from ..events.ringbuf import RingBuffer
            self._ringbuf = RingBuffer().add(self.map, None)
        return self._ringbuf.read_records(self._decoder(raw), timeout)

    def close(self):
        """Release the reader read_records() opened (BPF.cleanup() does it)."""
        if self._ringbuf is not None:
            self._ringbuf.close()
            self._ringbuf = None
