"""``bcc_core.relo_insn`` is :mod:`bcc_core.core.relo_insn` (the same module)."""
import sys

from .core import relo_insn as _new

sys.modules[__name__] = _new
