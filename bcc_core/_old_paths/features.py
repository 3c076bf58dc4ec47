"""``bcc_core.features`` is :mod:`bcc_core.load.features` (the same module)."""
import sys

from .load import features as _new

sys.modules[__name__] = _new
