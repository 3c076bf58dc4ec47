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
