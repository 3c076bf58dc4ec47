"""``bcc_core.ctypes_btf`` is :mod:`bcc_core.btf.ctypes_btf` (the same module)."""
import sys

from .btf import ctypes_btf as _new

sys.modules[__name__] = _new
