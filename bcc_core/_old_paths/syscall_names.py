"""``bcc_core.syscall_names`` is :mod:`bcc_core.attach.syscall_names` (the same module)."""
import sys

from .attach import syscall_names as _new

sys.modules[__name__] = _new
