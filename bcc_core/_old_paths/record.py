"""``bcc_core.record`` is :mod:`bcc_core.obj.record` (the same module)."""
import sys

from .obj import record as _new

sys.modules[__name__] = _new
