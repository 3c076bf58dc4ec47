"""``bcc_core.perf_buffer`` is :mod:`bcc_core.events.perf_buffer` (the same module)."""
import sys

from .events import perf_buffer as _new

sys.modules[__name__] = _new
