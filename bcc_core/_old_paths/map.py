"""``bcc_core.map`` is :mod:`bcc_core.load.map` (the same module)."""
import sys

from .load import map as _new

sys.modules[__name__] = _new
