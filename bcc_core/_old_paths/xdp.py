"""``bcc_core.xdp`` is :mod:`bcc_core.attach.xdp` (the same module)."""
import sys

from .attach import xdp as _new

sys.modules[__name__] = _new
