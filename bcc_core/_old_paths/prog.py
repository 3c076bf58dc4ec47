"""``bcc_core.prog`` is :mod:`bcc_core.load.prog` (the same module)."""
import sys

from .load import prog as _new

sys.modules[__name__] = _new
