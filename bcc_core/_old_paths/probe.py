"""``bcc_core.probe`` is :mod:`bcc_core.attach.probe` (the same module)."""
import sys

from .attach import probe as _new

sys.modules[__name__] = _new
