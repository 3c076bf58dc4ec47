"""What the perf buffer and ring buffer readers share: an epoll set over their fds, and
the wake-up coalescing of sustained streams."""
import select
from time import monotonic as _now, sleep as _sleep


class EpollReader:
    """Subclasses fill ``self.rings`` (fd -> ring) and implement ``_drain(ring)``.

    Wake-up coalescing: a perf buffer opened as BCC does (one wake-up per sample) wakes
    the reader once per record, and the wake-ups, not the records, then cost most of
    the reader's time (and the producer's: each one is an IPI and a context switch).
    While records keep arriving faster than one per ``coalesce_ms``, the reader stops
    waiting in epoll and sleeps ``coalesce_ms`` between passes instead, so that one pass
    takes a batch (interrupt mitigation, as network drivers do it).  A pass that finds
    fewer than two records ends it.  Each pass notes how full it found its rings
    (``_fill``); when a nap lets a ring fill past an eighth, the naps get shorter in
    proportion (half of what would have filled an eighth: BCC's default 8 pages at 100k
    events/s nap about 0.4 ms), down to ``MIN_NAP_MS``, and grow back towards
    ``coalesce_ms`` while they fill a ring less than a thirty-second.  When a nap of
    ``MIN_NAP_MS`` overfilled too -- the ring is too small for the rate, or sleeps
    overrun: on a busy virtual machine a 1 ms sleep sometimes takes 7 -- the reader
    goes back to a wake-up per record for a second.  Latency grows by
    at most ``coalesce_ms`` and only while a stream lasts; a quiet tool wakes exactly
    as before.  ``coalesce_ms = 0`` turns it off."""

    coalesce_ms = 1.0
    FILL = 1 / 8                    # how full a nap may let a ring get
    HOLD = 1.0                      # seconds without naps after one that overfilled
    MIN_NAP_MS = 0.1                # the shortest nap worth taking

    def __init__(self):
        self.ep = select.epoll()
        self.rings = {}
        self._last = -1.0           # when the last pass that found records ended
        self._stream = False        # coalescing: sleep, do not wait in epoll
        self._fill = 0.0            # the fullest ring the last pass found (0..1)
        self._hold = -1.0           # no coalescing before this time
        self._napped = False        # the pass under way follows a nap
        self._nap_ms = None         # the nap's length (None: coalesce_ms)

    def _watch(self, fd, ring):
        self.rings[fd] = ring
        self.ep.register(fd, select.EPOLLIN)

    def fileno(self):
        return self.ep.fileno()

    def poll(self, timeout_ms=-1):
        """Wait up to timeout_ms (-1: forever) for data, then consume it.  Returns the
        number of records handled."""
        if self._stream and timeout_ms and self._nap(timeout_ms):
            return self._passed(self.consume())
        try:
            ready = self.ep.poll(timeout_ms / 1000.0 if timeout_ms >= 0 else -1)
        except InterruptedError:
            return 0
        return self._passed(sum(self._drain(self.rings[fd]) for fd, _ in ready))

    def _nap(self, timeout_ms):
        """The wait of a coalescing poll.  False when the last nap overfilled a ring:
        then the poll waits in epoll instead, and no stream starts for HOLD seconds."""
        fill, self._fill = self._fill, 0.0
        nap = self._nap_ms or self.coalesce_ms
        if fill > self.FILL:
            if nap <= self.MIN_NAP_MS:
                self._nap_ms = None
                self._stream = False
                self._hold = _now() + self.HOLD
                return False
            nap = max(nap * self.FILL / fill / 2, self.MIN_NAP_MS)
        elif fill < self.FILL / 4 and nap < self.coalesce_ms:
            nap = min(nap * 2, self.coalesce_ms)
        self._nap_ms = nap
        ms = nap if timeout_ms < 0 else min(timeout_ms, nap)
        _sleep(ms / 1000.0)
        self._napped = True
        return True

    def _passed(self, n):
        """Record a pass that handled ``n`` records: go on coalescing, or start, when
        records come faster than one per coalesce_ms.  Returns n."""
        now = _now()
        if not self._napped:
            self._fill = 0.0        # no nap before this pass: its fill tells nothing
        self._napped = False
        if self._stream:
            self._stream = n > 1
        elif n:
            self._stream = now - self._last < self.coalesce_ms / 1000.0 and \
                now >= self._hold
        if n:
            self._last = now
        return n

    def _wait(self, timeout_ms):
        """For the batch readers: wait up to ``timeout_ms`` (-1: forever, 0: not at all);
        False when the wait ended with nothing to read.  The caller reports the pass
        with _passed()."""
        if not timeout_ms:
            return True
        if self._stream and self._nap(timeout_ms):
            return True
        try:
            return bool(self.ep.poll(timeout_ms / 1000.0 if timeout_ms > 0 else -1))
        except InterruptedError:
            return False

    def consume(self):
        """Read every ring without waiting."""
        return sum(self._drain(r) for r in list(self.rings.values()))

    def _drain(self, ring):
        raise NotImplementedError

    def _close_epoll(self):
        self.rings = {}
        try:
            self.ep.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def record_maker(decode):
    """(size, unpack_from of the record's slots, tuple.__new__) when ``decode`` is a
    struct_view record class, whose records the batch readers build inline
    (``new(decode, unpack_from(buffer, offset))``); else None."""
    size = getattr(decode, "_rec_size", None)
    fields = getattr(decode, "_rec_unpack", None)
    if size is None or fields is None or not isinstance(decode, type) or \
            not issubclass(decode, tuple):
        return None
    return size, fields, tuple.__new__


class ReaderGroup(EpollReader):
    """One epoll over every ring of several readers (perf buffers of one tool: nested
    epolls do not report readiness reliably), drained by each ring's own reader, with
    the wake-up coalescing of a single reader."""

    def __init__(self, readers):
        EpollReader.__init__(self)
        self.readers = tuple(readers)
        self.coalesce_ms = min([r.coalesce_ms for r in self.readers] or [self.coalesce_ms])
        for reader in self.readers:
            for fd, ring in reader.rings.items():
                self._watch(fd, (reader, ring))

    def _drain(self, entry):
        reader, ring = entry
        n = reader._drain(ring)
        if reader._fill > self._fill:
            self._fill = reader._fill
        reader._fill = 0.0
        return n

    def close(self):
        self._close_epoll()
