"""What the perf buffer and ring buffer readers share: an epoll set over their fds."""
import select


class EpollReader:
    """Subclasses fill ``self.rings`` (fd -> ring) and implement ``_drain(ring)``."""

    def __init__(self):
        self.ep = select.epoll()
        self.rings = {}

    def _watch(self, fd, ring):
        self.rings[fd] = ring
        self.ep.register(fd, select.EPOLLIN)

    def fileno(self):
        return self.ep.fileno()

    def poll(self, timeout_ms=-1):
        """Wait up to timeout_ms (-1: forever) for data, then consume it.  Returns the
        number of records handled."""
        try:
            ready = self.ep.poll(timeout_ms / 1000.0 if timeout_ms >= 0 else -1)
        except InterruptedError:
            return 0
        return sum(self._drain(self.rings[fd]) for fd, _ in ready)

    def _wait(self, timeout_ms):
        """For the batch readers: wait up to ``timeout_ms`` (-1: forever, 0: not at all);
        False when the wait ended with nothing to read."""
        if not timeout_ms:
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
    """(size, scalar fields' unpack, tuple.__new__) when ``decode`` is a struct_view
    record class, whose records the batch readers build inline; else None."""
    size = getattr(decode, "_rec_size", None)
    fields = getattr(decode, "_rec_unpack", None)
    if size is None or fields is None or not isinstance(decode, type) or \
            not issubclass(decode, tuple):
        return None
    return size, fields, tuple.__new__
