"""``bcc_core.kconfig`` is :mod:`bcc_core.load.kconfig` (the same module)."""
import sys

from .load import kconfig as _new

sys.modules[__name__] = _new
