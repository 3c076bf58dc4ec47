"""``bcc_core.loader`` is :mod:`bcc_core.load.loader` (the same module)."""
import sys

from .load import loader as _new

sys.modules[__name__] = _new
