"""BPF's perf and ring buffer polling (a mixin of :class:`bcc_core.bpf.BPF`): the readers
opened with table.open_perf_buffer / open_ring_buffer, drained by perf_buffer_poll,
ring_buffer_poll and their *_consume; one epoll over every CPU ring of several perf
buffers."""
from ..events._reader import ReaderGroup
from ..table import PerfEventArray, RingBuf


class Polling(object):
    """BPF's perf_buffer_poll, ring_buffer_poll and friends."""

    def _add_perf_reader(self, reader):
        self.perf_buffers[id(reader)] = reader      # perf_buffer_poll rebuilds its epoll

    def _remove_perf_reader(self, reader):
        self.perf_buffers.pop(id(reader), None)

    def perf_buffer_poll(self, timeout=-1):
        """Wait up to ``timeout`` ms (-1: no limit) for records in the perf buffers
        opened with open_perf_buffer and hand each one to its table's callback.
        A callback failing with EPIPE (output piped to ``head``...) ends the program
        quietly, as in BCC."""
        try:
            self._perf_buffer_poll(timeout)
        except BrokenPipeError:
            raise SystemExit()

    def _perf_buffer_poll(self, timeout):
        readers = list(self.perf_buffers.values())
        if not readers:
            return
        if len(readers) == 1:
            readers[0].poll(timeout)
            return
        # one epoll over every CPU ring of every reader, rebuilt when buffers are
        # opened or closed
        key = tuple(id(r) for r in readers)
        if self._perf_epoll is None or self._perf_epoll[0] != key:
            if self._perf_epoll is not None:
                self._perf_epoll[1].close()
            self._perf_epoll = (key, ReaderGroup(readers))
            # records written before this epoll existed are not reported by it
            if self._perf_epoll[1].consume():
                return
        self._perf_epoll[1].poll(timeout)

    def perf_buffer_consume(self):
        """Hand every record waiting in the perf buffers to the callbacks, without
        waiting for more."""
        try:
            for r in list(self.perf_buffers.values()):
                r.consume()
        except BrokenPipeError:
            raise SystemExit()

    def kprobe_poll(self, timeout=-1):
        """Old name of perf_buffer_poll, kept for old tools."""
        self.perf_buffer_poll(timeout)

    def _open_ring_buffer(self, map, fn, ctx=None):
        from ..events.ringbuf import RingBuffer
        if not self._ringbuf_manager:
            self._ringbuf_manager = RingBuffer(addresses=True)
        try:
            self._ringbuf_manager.add(map, fn)
        except OSError as e:
            raise Exception("Could not open ring buffer: %s" % e) from e

    def ring_buffer_poll(self, timeout=-1):
        """Wait up to ``timeout`` ms (-1: no limit) for records in the ring buffers
        opened with open_ring_buffer and hand each one to its table's callback."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        try:
            self._ringbuf_manager.poll(timeout)
        except BrokenPipeError:
            raise SystemExit()

    def ring_buffer_consume(self):
        """Hand every record waiting in the ring buffers to the callbacks, without
        waiting for more."""
        if not self._ringbuf_manager:
            raise Exception("No ring buffers to poll")
        try:
            self._ringbuf_manager.consume()
        except BrokenPipeError:
            raise SystemExit()

    def _release_perf_buffers(self, attempt):
        """Close the perf buffers and perf counters opened through tables, then the
        readers and their epoll (``attempt(fn, *args)`` runs each, see cleanup)."""
        for key in [k for k, t in self.tables.items()
                    if isinstance(t, (PerfEventArray, RingBuf))]:
            attempt(self.tables.pop(key).close)
        for r in list(self.perf_buffers.values()):
            self._remove_perf_reader(r)
            attempt(r.close)
        if self._perf_epoll is not None:
            attempt(self._perf_epoll[1].close)
            self._perf_epoll = None
