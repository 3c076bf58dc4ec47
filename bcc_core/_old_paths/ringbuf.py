"""``bcc_core.ringbuf`` is :mod:`bcc_core.events.ringbuf` (the same module)."""
import sys

from .events import ringbuf as _new

sys.modules[__name__] = _new
