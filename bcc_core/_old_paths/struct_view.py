"""``bcc_core.struct_view`` is :mod:`bcc_core.events.struct_view` (the same module)."""
import sys

from .events import struct_view as _new

sys.modules[__name__] = _new
