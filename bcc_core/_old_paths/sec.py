"""``bcc_core.sec`` is :mod:`bcc_core.obj.sec` (the same module)."""
import sys

from .obj import sec as _new

sys.modules[__name__] = _new
