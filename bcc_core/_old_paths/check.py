"""``bcc_core.check`` is :mod:`bcc_core.core.check` (the same module)."""
import sys

from .core import check as _new

sys.modules[__name__] = _new
