"""``bcc_core._reader`` is :mod:`bcc_core.events._reader` (the same module)."""
import sys

from .events import _reader as _new

sys.modules[__name__] = _new
