"""``bcc_core.relo`` is :mod:`bcc_core.core.relo` (the same module)."""
import sys

from .core import relo as _new

sys.modules[__name__] = _new
